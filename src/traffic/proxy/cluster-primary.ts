/**
 * The router on several processes: node:cluster workers (cluster-worker.ts) each run the
 * whole router on listeners they share; this primary process serves no requests. It owns
 * the admin API and the route table as the admin API left it:
 *
 * - a change (weight, mirror, stickiness, TLS certificate) is sent to every worker and the
 *   admin call answers only once each has applied it, so no request that starts after the
 *   call returned is routed by the old setting. Changes are serialised, and a replacement
 *   worker is started under the same lock with the current settings, so it cannot miss one;
 * - reads sum every worker: `/metrics` through prom-client's AggregatorRegistry, the JSON
 *   counters, histograms and the shadow comparison through control.ts's merges;
 * - a worker that dies is replaced (its counters are lost with it: Prometheus reads that as
 *   a counter reset); a worker that does not acknowledge a change within CALL_TIMEOUT_MS is
 *   killed and replaced, its replacement starting from the new settings.
 *
 * Replacements listen on the handle the primary holds for the workers' shared port (also
 * for port 0), as long as one worker still holds it.
 *
 * Why SCHED_NONE by default: with round-robin the primary accepts every connection and
 * passes it on, one more hop on a machine whose cores the workers need; with SCHED_NONE the
 * workers accept from the shared socket themselves and the kernel spreads connections.
 * `NODE_CLUSTER_SCHED_POLICY=rr` picks round-robin (bench/traffic.bench.ts measures both).
 * Sticky buckets need no coordination: a user's bucket is a hash of their id (buckets.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { FerryError } from '../../util/errors.js';
import { startAdmin } from './admin.js';
import type { RouterConfig } from './config.js';
import { deserializeError, mergeMirrorStats, mergeSnapshots, settingsOf, type ControlCall, type ControlReply, type RouterControl } from './control.js';
import type { BackendSnapshot } from './metrics.js';
import type { MirrorStats } from './mirror.js';
import type { RouteView } from './routes.js';
import { loadTlsMaterial, secureContextOptions, type CertificateView, type TlsMaterial } from './tls.js';

export interface RouterClusterOptions {
  workers: number;
  adminToken?: string;
  /** Where worker lifecycle lines go (default stderr). */
  log?: (line: string) => void;
}

export interface RouterCluster {
  url: string;
  tlsUrl: string | undefined;
  adminUrl: string;
  control: RouterControl;
  close(): Promise<void>;
}

/** How long a worker may take to apply a change or answer a read before it is replaced. */
const CALL_TIMEOUT_MS = 10_000;
/** How long a worker may take to start. */
const START_TIMEOUT_MS = 30_000;
/** A worker that dies sooner than this after starting is replaced only after this delay. */
const CRASH_BACKOFF_MS = 1_000;

type Call = ControlCall extends infer C ? (C extends ControlCall ? Omit<C, 'id' | 'kind'> : never) : never;
/** A change of one route's settings: its first argument is the route's name. */
type RouteChange = Extract<Call, { op: 'setWeight' | 'setMirror' | 'setStickiness' }>;

interface Member {
  worker: Worker;
  ready: boolean;
  startedAt: number;
  /** Resolved once the worker listens for messages and was sent `init` (anything sent before is lost). */
  greeted: Promise<void>;
  pending: Map<number, { resolve(value: unknown): void; reject(error: unknown): void; timer: NodeJS.Timeout }>;
}

class WorkerGone extends Error {}

export async function startRouterCluster(config: RouterConfig, options: RouterClusterOptions): Promise<RouterCluster> {
  if (!Number.isInteger(options.workers) || options.workers < 2) throw new FerryError('usage', `a router cluster needs at least 2 workers, got ${options.workers}`, { location: { field: '--workers' }, fix: 'use --workers 1 for one process' });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const entry = fileURLToPath(new URL(`./cluster-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  // Running from the TypeScript sources: workers load tsx by its resolved path, whatever the working directory.
  cluster.setupPrimary({ exec: entry, serialization: 'advanced', execArgv: entry.endsWith('.ts') ? [...process.execArgv, '--import', import.meta.resolve('tsx')] : process.execArgv });

  // Loaded once here, so workers neither read the Secret N times nor serve different ones.
  const loadedTls = config.tls ? await loadTlsMaterial(config.tls) : undefined;
  let tls: { material: TlsMaterial; source: string } | undefined = loadedTls;
  let views: RouteView[] = [];
  let certificate: CertificateView | undefined;
  const members = new Map<number, Member>();
  let nextCallId = 1;
  let closing = false;
  /** Changes and replacements, one at a time. */
  let lock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const result = lock.then(work);
    lock = result.catch(() => undefined);
    return result;
  };

  const call = (member: Member, request: Call): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextCallId++;
      // A worker still starting answers once it has started (tsx compiles its modules first).
      const timeoutMs = member.ready ? CALL_TIMEOUT_MS : START_TIMEOUT_MS;
      const timer = setTimeout(() => {
        member.pending.delete(id);
        reject(new FerryError('router-worker', `router worker ${member.worker.process.pid} did not answer ${request.op} within ${timeoutMs / 1000} s`, { fix: 'it is being replaced; retry the call' }));
        // A worker that may not have applied a change must not keep serving requests.
        member.worker.process.kill('SIGKILL');
      }, timeoutMs);
      member.pending.set(id, { resolve, reject, timer });
      void member.greeted.then(() => member.worker.send({ ...request, kind: 'call', id } as ControlCall));
    });

  /** Every worker that serves or is about to serve applies the change; a worker that dies meanwhile is replaced with it. */
  const broadcast = async (request: Call): Promise<unknown> => {
    const answers = await Promise.all([...members.values()].map((member) => call(member, request).then((value) => ({ value }), (error: unknown) => ({ error }))));
    const alive = answers.filter((answer) => !('error' in answer && answer.error instanceof WorkerGone));
    const failed = alive.find((answer): answer is { error: unknown } => 'error' in answer);
    if (failed) throw failed.error;
    if (alive.length === 0) throw new FerryError('router-worker', 'no router worker is running', { fix: 'the workers are being restarted; retry the call' });
    return (alive[0] as { value: unknown }).value;
  };

  /** Reads from every worker that serves; a worker gone meanwhile is left out. */
  const gather = async <T>(request: Call): Promise<T[]> => {
    const ready = [...members.values()].filter((member) => member.ready);
    const answers = await Promise.all(ready.map((member) => call(member, request).then((value) => [value as T], (error: unknown) => {
      if (error instanceof WorkerGone) return [];
      throw error;
    })));
    return answers.flat();
  };

  let started: { resolve(): void; reject(error: unknown): void } | undefined;
  const fork = (): Member => {
    const worker = cluster.fork();
    let greet = (): void => undefined;
    const greeted = new Promise<void>((resolve) => (greet = resolve));
    const member: Member = { worker, ready: false, startedAt: Date.now(), greeted, pending: new Map() };
    members.set(worker.id, member);
    worker.on('message', (message: ControlReply) => {
      if (message.kind === 'hello') {
        worker.send({ kind: 'init', config, settings: views.map(settingsOf), ...(tls ? { tls } : {}) });
        greet();
      } else if (message.kind === 'ready') {
        member.ready = true;
        if (views.length === 0) {
          views = message.routes;
          certificate = message.certificate ?? undefined;
        }
        if (started && [...members.values()].every((each) => each.ready)) {
          urls = { url: message.url, tlsUrl: message.tlsUrl };
          started.resolve();
        }
      } else if (message.kind === 'start-failed') {
        const error = deserializeError(message.error);
        if (started) started.reject(error);
        else log(`router worker ${worker.process.pid} could not start: ${error.oneLine()}`);
      } else if (message.kind === 'reply') {
        const waiting = member.pending.get(message.id);
        if (!waiting) return;
        member.pending.delete(message.id);
        clearTimeout(waiting.timer);
        if (message.ok) waiting.resolve(message.value);
        else waiting.reject(deserializeError(message.error));
      }
    });
    worker.on('exit', (code, signal) => {
      members.delete(worker.id);
      for (const waiting of member.pending.values()) {
        clearTimeout(waiting.timer);
        waiting.reject(new WorkerGone());
      }
      if (closing) return;
      if (started) return started.reject(new FerryError('router-worker', `router worker ${worker.process.pid} exited while starting (${signal ?? `code ${code}`})`, { fix: 'run with --workers 1 to see the error of a single process' }));
      log(`router worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting a replacement`);
      const delay = Date.now() - member.startedAt < CRASH_BACKOFF_MS ? CRASH_BACKOFF_MS : 0;
      setTimeout(() => {
        if (!closing) void exclusive(async () => fork());
      }, delay);
    });
    return member;
  };

  let urls: { url: string; tlsUrl: string | undefined } = { url: '', tlsUrl: undefined };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FerryError('router-worker', `the router workers did not start within ${START_TIMEOUT_MS / 1000} s`, { fix: 'run with --workers 1 to see the error of a single process' })), START_TIMEOUT_MS);
      started = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      // All at once: the primary keys shared listeners by address, port and the worker's n-th
      // listen on them, so with port 0 every worker still gets the port the first bind got.
      for (let i = 0; i < options.workers; i++) fork();
    });
  } catch (error) {
    closing = true;
    await stopWorkers(members);
    throw error;
  }
  started = undefined;

  const routeOrThrow = (name: string): RouteView => {
    const view = views.find((route) => route.name === name);
    if (!view) throw new FerryError('not-found', `no route named "${name}"`, { fix: `use one of: ${views.map((route) => route.name).join(', ')}` });
    return view;
  };
  const change = (request: RouteChange): Promise<RouteView> =>
    exclusive(async () => {
      routeOrThrow(request.args[0]);
      const view = (await broadcast(request)) as RouteView;
      views = views.map((each) => (each.name === view.name ? view : each));
      return view;
    });
  const control: RouterControl = {
    get tlsUrl() {
      return urls.tlsUrl;
    },
    metricsText: async () => {
      const perWorker = await gather<Array<MetricObjectWithValues<MetricValue<string>>>>({ op: 'metricsJson', args: [] });
      const registry = AggregatorRegistry.aggregate(perWorker);
      return { text: await registry.metrics(), contentType: registry.contentType };
    },
    metricsSnapshot: async () => mergeSnapshots(await gather<BackendSnapshot[]>({ op: 'metricsSnapshot', args: [] })),
    routes: async () => views,
    mirrorStats: async (route) => {
      routeOrThrow(route);
      const perWorker = await gather<MirrorStats>({ op: 'mirrorStats', args: [route] });
      const sampleSize = config.routes.find((each) => each.name === route)?.mirror.compare.sampleSize ?? 0;
      if (perWorker.length === 0) throw new FerryError('router-worker', 'no router worker is running', { fix: 'the workers are being restarted; retry the call' });
      return mergeMirrorStats(perWorker, sampleSize);
    },
    certificate: async () => certificate,
    setWeight: (route, percent) => change({ op: 'setWeight', args: [route, percent] }),
    setMirror: (route, setting) => change({ op: 'setMirror', args: [route, setting] }),
    setStickiness: (route, setting) => change({ op: 'setStickiness', args: [route, setting] }),
    setCertificate: (material, source) =>
      exclusive(async () => {
        if (!urls.tlsUrl) throw new FerryError('usage', 'the router has no TLS listener', { location: { field: 'tls' }, fix: 'add tls: { listen: 127.0.0.1:8443 } to router.yaml' });
        secureContextOptions(material, source);
        const view = (await broadcast({ op: 'setCertificate', args: [material, source] })) as CertificateView;
        tls = { material, source };
        certificate = view;
        return view;
      }),
  };

  let admin: { url: string; close(): Promise<void> };
  try {
    admin = await startAdmin(config.admin.listen, control, options.adminToken);
  } catch (error) {
    closing = true;
    await stopWorkers(members);
    throw error;
  }
  return {
    url: urls.url,
    tlsUrl: urls.tlsUrl,
    adminUrl: admin.url,
    control,
    close: async () => {
      closing = true;
      await admin.close();
      await lock;
      await stopWorkers(members);
    },
  };
}

/** Asks every worker to drain and stop; kills those still running after the drain time. */
async function stopWorkers(members: Map<number, Member>): Promise<void> {
  await Promise.all(
    [...members.values()].map(
      (member) =>
        new Promise<void>((resolve) => {
          const { worker } = member;
          if (worker.isDead()) return resolve();
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), 10_000);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (worker.isConnected()) worker.send({ kind: 'shutdown' });
          else worker.process.kill('SIGKILL');
        }),
    ),
  );
}

