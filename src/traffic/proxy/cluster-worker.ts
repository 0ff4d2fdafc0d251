/**
 * One worker of a multi-process router (cluster-primary.ts), run by node:cluster. It serves
 * requests on the listeners the workers share and does what the primary asks over IPC: it
 * starts from the settings of the `init` message (the route table as the admin API left it),
 * applies every change in the order sent and acknowledges it, and reports its counters. It
 * ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole process group; the primary decides when
 * workers stop) and stops when told to or when the primary is gone.
 */
import { localControl, serializeError, type ControlCall, type ControlReply, type ControlRequest, type RouteSettings, type RouterControl } from './control.js';
import type { Router } from './server.js';
import type { TlsMaterial } from './tls.js';

// Loaded while the primary answers `hello` with `init`, not before `hello` is sent: the
// proxy's modules are most of a worker's start-up time.
const server = import('./server.js');
server.catch(() => undefined); // a failed import is reported as start-failed once `init` awaits it

type InitRequest = Extract<ControlRequest, { kind: 'init' }>;

let router: Router | undefined;
/** What the primary's calls are performed on, once the router has started. */
let control: RouterControl | undefined;
let stopping = false;
/** Calls that arrived while the router was starting, applied in order once it has. */
const queued: ControlCall[] = [];

function send(reply: ControlReply): void {
  if (process.connected) process.send!(reply);
}

async function start(init: InitRequest): Promise<void> {
  try {
    const settings: RouteSettings[] = init.settings;
    const tls: { material: TlsMaterial; source: string } | undefined = init.tls;
    const { startRouter } = await server;
    router = await startRouter(init.config, { admin: false, settings, ...(tls ? { tls: tls.material, tlsSource: tls.source } : {}) });
  } catch (error) {
    send({ kind: 'start-failed', error: serializeError(error) });
    process.exit(1);
  }
  control = localControl(router);
  // Not awaited: each change is applied synchronously, in the order the primary sent it.
  for (const call of queued.splice(0)) void answer(call);
  send({ kind: 'ready', url: router.url, tlsUrl: router.tlsUrl, routes: router.routes(), certificate: router.certificate() ?? null });
}

async function answer(call: ControlCall): Promise<void> {
  try {
    send({ kind: 'reply', id: call.id, ok: true, value: await perform(call) });
  } catch (error) {
    send({ kind: 'reply', id: call.id, ok: false, error: serializeError(error) });
  }
}

/** Runs one call; a change is applied before this returns its promise, so changes apply in the order they came. */
async function perform(call: ControlCall): Promise<unknown> {
  if (call.op === 'metricsJson') {
    // Only the data: the objects also hold functions, which do not cross IPC.
    return (await router!.metrics.registry.getMetricsAsJSON()).map(({ name, help, type, aggregator, values }) => ({ name, help, type, aggregator, values }));
  }
  // ControlCall pairs each method with its arguments' types; TypeScript cannot follow that pairing through a union here.
  return Reflect.apply(control![call.op], control, call.args) as Promise<unknown>;
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await router?.close();
  process.exit(0);
}

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => void stop());
process.on('message', (message: ControlRequest) => {
  if (message.kind === 'init') void start(message);
  else if (message.kind === 'shutdown') void stop();
  else if (message.kind === 'call') {
    if (control) void answer(message);
    else queued.push(message);
  }
});
// Messages sent before a listener exists are lost: the primary sends `init` only after this.
send({ kind: 'hello' });
