/**
 * One worker of a multi-process router (cluster-primary.ts), run by node:cluster. It serves
 * requests on the listeners the workers share and does what the primary asks over IPC: it
 * starts from the settings of the `init` message (the route table as the admin API left it),
 * applies every change in the order sent and acknowledges it, and reports its counters. It
 * ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole process group; the primary decides when
 * workers stop) and stops when told to or when the primary is gone.
 */
import { serializeError, type ControlCall, type ControlReply, type ControlRequest, type RouteSettings } from './control.js';
import type { Router } from './server.js';
import type { TlsMaterial } from './tls.js';

// Loaded while the primary answers `hello` with `init`, not before `hello` is sent: the
// proxy's modules are most of a worker's start-up time.
const server = import('./server.js');
server.catch(() => undefined); // a failed import is reported as start-failed once `init` awaits it

type InitRequest = Extract<ControlRequest, { kind: 'init' }>;

let router: Router | undefined;
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
  // Not awaited: each change is applied synchronously, in the order the primary sent it.
  for (const call of queued.splice(0)) void answer(call);
  send({ kind: 'ready', url: router.url, tlsUrl: router.tlsUrl, routes: router.routes(), certificate: router.certificate() ?? null });
}

async function answer(call: ControlCall): Promise<void> {
  try {
    send({ kind: 'reply', id: call.id, ok: true, value: await perform(router!, call) });
  } catch (error) {
    send({ kind: 'reply', id: call.id, ok: false, error: serializeError(error) });
  }
}

async function perform(target: Router, call: ControlCall): Promise<unknown> {
  switch (call.op) {
    case 'setWeight':
      return target.setWeight(call.route, call.percent);
    case 'setMirror':
      return target.setMirror(call.route, call.setting);
    case 'setStickiness':
      return target.setStickiness(call.route, call.setting);
    case 'setCertificate':
      return target.setCertificate(call.material, call.source);
    case 'metricsJson':
      // Only the data: the objects also hold functions, which do not cross IPC.
      return (await target.metrics.registry.getMetricsAsJSON()).map(({ name, help, type, aggregator, values }) => ({ name, help, type, aggregator, values }));
    case 'metricsSnapshot':
      return target.metrics.snapshot();
    case 'mirrorStats':
      return target.mirrorStats(call.route);
    case 'routes':
      return { routes: target.routes(), certificate: target.certificate() ?? null };
  }
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
    if (router) void answer(message);
    else queued.push(message);
  }
});
// Messages sent before a listener exists are lost: the primary sends `init` only after this.
send({ kind: 'hello' });
