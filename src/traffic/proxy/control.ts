import { FerryError, type ErrorLocation } from '../../util/errors.js';
import type { RouterConfig } from './config.js';
import { quantileFromBuckets, type BackendSnapshot } from './metrics.js';
import { mismatchRate, type MirrorStats } from './mirror.js';
import type { MirrorSetting, RouteView, StickinessSetting } from './routes.js';
import type { Router } from './server.js';
import type { CertificateView, TlsMaterial } from './tls.js';

/**
 * What the admin API drives: one in-process router (`localControl`) or every worker of a
 * multi-process router (cluster-primary.ts). Async because a worker answers over IPC; a
 * change resolves only once every router that serves requests has applied it.
 */
export interface RouterControl {
  readonly tlsUrl: string | undefined;
  metricsText(): Promise<{ text: string; contentType: string }>;
  metricsSnapshot(): Promise<BackendSnapshot[]>;
  routes(): Promise<RouteView[]>;
  mirrorStats(route: string): Promise<MirrorStats>;
  certificate(): Promise<CertificateView | undefined>;
  setWeight(route: string, targetPercent: number): Promise<RouteView>;
  setMirror(route: string, setting: MirrorSetting): Promise<RouteView>;
  setStickiness(route: string, setting: StickinessSetting): Promise<RouteView>;
  setCertificate(material: TlsMaterial, source: string): Promise<CertificateView>;
}

export function localControl(router: Router): RouterControl {
  return {
    get tlsUrl() {
      return router.tlsUrl;
    },
    metricsText: async () => ({ text: await router.metrics.registry.metrics(), contentType: router.metrics.registry.contentType }),
    metricsSnapshot: async () => router.metrics.snapshot(),
    routes: async () => router.routes(),
    mirrorStats: async (route) => router.mirrorStats(route),
    certificate: async () => router.certificate(),
    setWeight: async (route, percent) => router.setWeight(route, percent),
    setMirror: async (route, setting) => router.setMirror(route, setting),
    setStickiness: async (route, setting) => router.setStickiness(route, setting),
    setCertificate: async (material, source) => router.setCertificate(material, source),
  };
}

/** The run-time settings of one route: what a replacement worker must start with. */
export interface RouteSettings {
  name: string;
  weight: number;
  mirror: Required<MirrorSetting>;
  stickiness: StickinessSetting;
}

export function settingsOf(view: RouteView): RouteSettings {
  return { name: view.name, weight: view.weights.target, mirror: { ...view.mirror, ignorePaths: [...view.mirror.ignorePaths] }, stickiness: { ...view.stickiness } };
}

/** The RouterControl methods a worker performs for the primary, by name and arguments. */
type WorkerMethod = 'setWeight' | 'setMirror' | 'setStickiness' | 'setCertificate' | 'metricsSnapshot' | 'mirrorStats';

/**
 * One call to a worker: a method of its `localControl`, or `metricsJson` (the worker's metrics
 * as data, which the primary aggregates into one `/metrics` text).
 */
export type ControlCall =
  | { [M in WorkerMethod]: { kind: 'call'; id: number; op: M; args: Parameters<RouterControl[M]> } }[WorkerMethod]
  | { kind: 'call'; id: number; op: 'metricsJson'; args: [] };

/** Primary → worker over the cluster IPC channel. */
export type ControlRequest =
  | { kind: 'init'; config: RouterConfig; settings: RouteSettings[]; tls?: { material: TlsMaterial; source: string } }
  | ControlCall
  | { kind: 'shutdown' };

/** Worker → primary. */
export type ControlReply =
  | { kind: 'hello' }
  | { kind: 'ready'; url: string; tlsUrl: string | undefined; routes: RouteView[]; certificate: CertificateView | null }
  | { kind: 'start-failed'; error: SerializedError }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: SerializedError };

export interface SerializedError {
  code: string;
  message: string;
  fix?: string;
  location?: ErrorLocation;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof FerryError) return { code: error.code, message: error.message, ...(error.fix ? { fix: error.fix } : {}), location: error.location };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

export function deserializeError(error: SerializedError): FerryError {
  return new FerryError(error.code, error.message, { ...(error.fix ? { fix: error.fix } : {}), ...(error.location ? { location: error.location } : {}) });
}

/** Per route/backend/role counters of every worker summed; percentiles from the summed histogram. */
export function mergeSnapshots(perWorker: BackendSnapshot[][]): BackendSnapshot[] {
  const byKey = new Map<string, BackendSnapshot>();
  for (const snapshot of perWorker.flat()) {
    const key = `${snapshot.route}\u0000${snapshot.role}\u0000${snapshot.backend}`;
    const into = byKey.get(key);
    if (!into) {
      byKey.set(key, structuredClone(snapshot));
      continue;
    }
    into.requests += snapshot.requests;
    into.errors += snapshot.errors;
    addCounts(into.byStatusClass, snapshot.byStatusClass);
    if (snapshot.grpcByStatus) addCounts((into.grpcByStatus ??= {}), snapshot.grpcByStatus);
    if (snapshot.websockets) {
      into.websockets ??= { opened: 0, open: 0 };
      into.websockets.opened += snapshot.websockets.opened;
      into.websockets.open += snapshot.websockets.open;
    }
    into.latency.count += snapshot.latency.count;
    into.latency.sumMs += snapshot.latency.sumMs;
    snapshot.latency.bucketsMs.forEach((bucket, i) => (into.latency.bucketsMs[i]!.count += bucket.count));
  }
  return [...byKey.keys()].sort().map((key) => {
    const merged = byKey.get(key)!;
    const { bucketsMs, count } = merged.latency;
    merged.latency.p50Ms = quantileFromBuckets(bucketsMs, count, 0.5);
    merged.latency.p99Ms = quantileFromBuckets(bucketsMs, count, 0.99);
    return merged;
  });
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

/**
 * The shadow comparison over every worker: counts summed, the rate and its error recomputed
 * from the sums, and the differing pairs taken from each worker in turn up to `sampleSize`
 * (each worker's sample is already a uniform reservoir of its own pairs).
 */
export function mergeMirrorStats(perWorker: MirrorStats[], sampleSize: number): MirrorStats {
  const first = perWorker[0]!;
  const merged: MirrorStats = { ...first, mirrored: 0, compared: 0, mismatched: 0, shadowErrors: 0, skippedNonIdempotent: 0, byReason: { status: 0, header: 0, body: 0 }, samples: [] };
  for (const stats of perWorker) {
    merged.mirrored += stats.mirrored;
    merged.compared += stats.compared;
    merged.mismatched += stats.mismatched;
    merged.shadowErrors += stats.shadowErrors;
    merged.skippedNonIdempotent += stats.skippedNonIdempotent;
    for (const reason of Object.keys(merged.byReason) as Array<keyof MirrorStats['byReason']>) merged.byReason[reason] += stats.byReason[reason];
  }
  const longest = Math.max(...perWorker.map((stats) => stats.samples.length));
  for (let i = 0; i < longest && merged.samples.length < sampleSize; i++) {
    for (const stats of perWorker) if (i < stats.samples.length && merged.samples.length < sampleSize) merged.samples.push(stats.samples[i]!);
  }
  merged.samples.sort((a, b) => a.at - b.at);
  return { ...merged, ...mismatchRate(merged.mismatched, merged.compared) };
}
