import type { Journal } from '../journal/journal.js';
import type { ShadowStats } from '../traffic/provider.js';
import { FerryError, toFerryError } from '../util/errors.js';
import type { RunControl } from './control.js';
import type { SliceState, StageName } from './model.js';
import { runRamp } from './ramp.js';
import { singletonsAt } from './singletons.js';
import type { RunEnvironment, SliceServices } from './services.js';
import type { EffectiveSlice } from './slice-settings.js';

/** Everything a stage works with: one object instead of positional parameters. */
export interface StageContext {
  slice: EffectiveSlice;
  /** The slice as the journal says it is, read when the slice (re)started. */
  state: SliceState;
  services: SliceServices;
  journal: Journal;
  env: RunEnvironment;
  control: RunControl;
  /** Journal records of this run so far (for stages that resume from what they journaled). */
  recordsOf(type: string): Array<{ at: string; data: Record<string, unknown> }>;
}

type StageResult = Record<string, unknown>;

/**
 * One function per stage, in a table the compiler checks for completeness (every stage of
 * `STAGES` has an entry). A stage is observe-then-ensure: run again after a crash, it
 * changes nothing that was already done.
 */
export const STAGE_FUNCTIONS: Record<StageName, (ctx: StageContext) => Promise<StageResult>> = {
  apply: applySlice,
  'data-sync': syncData,
  parity: checkParity,
  shadow,
  // A slice without data hands its CronJobs and singletons to the target once the ramp is done.
  ramp: async (ctx) => { const result = await runRamp(ctx); await singletonsAt('ramp', ctx); return result; },
  'data-cutover': cutOverData,
  soak,
  decommission,
};

/**
 * Applies the slice to the target. A Service of the slice that is a bridge there now (its
 * callers moved before it) is applied last, over the bridge, once the slice's pods are ready.
 */
async function applySlice({ slice, services, env, journal }: StageContext): Promise<StageResult> {
  const bridges = env.bridges;
  if (!bridges) return { applied: await services.apply() };
  const bridged = bridges.bridged(journal, 'target');
  const applied = await services.apply({
    defer: (object) => object.apiVersion === 'v1' && object.kind === 'Service' && bridged.has(`${object.metadata.namespace ?? 'default'}/${object.metadata.name}`),
    afterReady: async (deferred, apply) => {
      const traffic = services.traffic;
      if (!traffic || !rampsInMesh(slice)) {
        await bridges.replace(journal, deferred, apply);
        return;
      }
      // An internal ramp: the mesh route (at the weight it has, 0 at first) before the Service
      // gets its pods; the bridge stays as the route's source until the ramp is done.
      await traffic.reconcile();
      await apply(deferred);
      journal.append('bridge-kept', { slice: slice.name, services: deferred.map((service) => `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`), reason: 'internal ramp' });
    },
  });
  return { applied };
}

/**
 * An internal ramp: an Istio route for callers' sidecars (no `gateways`: the mesh), which
 * splits the slice's own Service name between the bridge and its pods. An Istio route at an
 * ingress gateway is an edge ramp like any other.
 */
function rampsInMesh(slice: EffectiveSlice): boolean {
  const settings = slice.providerSettings;
  return settings?.type === 'istio' && (settings.gateways === undefined || settings.gateways.includes('mesh'));
}

/** Why a stage does not apply to a slice, or undefined when it runs. */
export function whySkip(stage: StageName, slice: EffectiveSlice, services: SliceServices): string | undefined {
  const dataless = !services.data && (stage === 'data-sync' || stage === 'parity' || stage === 'data-cutover');
  if (dataless) return 'the slice has no data section';
  if ((stage === 'shadow' || stage === 'ramp') && !services.traffic) return 'the slice serves no traffic (provider none)';
  if (stage === 'shadow' && slice.mirror.percent <= 0) return 'mirroring is off for this slice (traffic.mirror.percent 0)';
  return undefined;
}

async function syncData({ slice, services, control, env, journal }: StageContext): Promise<StageResult> {
  const data = services.data!;
  const check = await data.check();
  if (!check.ok) {
    const first = check.items.find((item) => !item.ok && item.severity === 'error');
    throw new FerryError('data.check', `data check failed: ${first?.message ?? 'see ferry data check'}`, { location: { object: `slice ${slice.name}`, field: 'data' }, fix: first?.fix ?? 'run `ferry data check`' });
  }
  await data.prepare({ copySchema: slice.copySchema });
  await data.startSync();
  const deadline = env.clock.now() + slice.dataSyncTimeoutMs;
  let sampledAt = -Infinity;
  for (;;) {
    const status = await data.status();
    const lag = await data.lag();
    // The catch-up as a timeline (dashboard, report), once a second.
    if (env.clock.now() - sampledAt >= 1000) {
      sampledAt = env.clock.now();
      journal.append('lag-sample', { slice: slice.name, ...(lag.seconds !== null ? { replicationLagMs: lag.seconds * 1000 } : {}), tablesReady: status.tables.filter((table) => table.state === 'ready').length, tables: status.tables.length });
    }
    if (status.allReady && lag.seconds !== null && lag.seconds * 1000 <= slice.maxLagMs) return { tables: status.tables.length, lagSeconds: lag.seconds };
    if (env.clock.now() > deadline) {
      throw new FerryError('data.sync', `replication did not catch up within ${Math.round(slice.dataSyncTimeoutMs / 60_000)} minutes (lag ${lag.seconds ?? 'unknown'} s)`, { fix: 'check `ferry data status`; large transactions delay the initial copy' });
    }
    await control.sleep(500);
  }
}

async function checkParity({ services }: StageContext): Promise<StageResult> {
  const report = await services.data!.parity();
  if (!report.ok) {
    const shown = report.differences.slice(0, 5).map((d) => `${d.table} ${d.key.join(',')} ${d.kind}`).join('; ');
    throw new FerryError('data.parity', `data parity failed: ${report.differences.length} row(s) differ (${shown})`, {
      fix: 'inspect those keys on both sides; `ferry data parity` repeats the check',
      facts: { rows: report.rows, differences: report.differences.length, transientDifferences: report.transientDifferences },
    });
  }
  // Differences seen while replication was live and gone on re-check: the report counts them as found and repaired.
  return { rows: report.rows, rowsPerSecond: Math.round(report.rowsPerSecond), queries: report.queries, differences: 0, transientDifferences: report.transientDifferences };
}

/**
 * Mirrors live requests to the target for the mirror window and compares the responses.
 * Fewer comparisons than `gates.minRequests` is inconclusive: the window is extended up to
 * `analysis.maxExtensions` times, then `analysis.onInconclusive` decides — never a silent pass.
 */
async function shadow({ slice, services, control, journal }: StageContext): Promise<StageResult> {
  const traffic = services.traffic!;
  if (!traffic.capabilities.mirror || !traffic.capabilities.compare || !traffic.shadowStats) {
    throw new FerryError('plan.mirror', `slice ${slice.name}: the ${traffic.type} provider cannot compare mirrored responses, so the shadow stage would judge nothing`, {
      location: { field: `slice ${slice.name} traffic.mirror.percent` },
      fix: 'set traffic.mirror.percent to 0 for this slice, or route it through the embedded router (provider: router) for the shadow stage',
    });
  }
  await traffic.reconcile();
  if (slice.stickiness && traffic.setStickiness) await traffic.setStickiness(slice.stickiness);
  const before = await traffic.shadowStats();
  await traffic.setMirror({ enabled: true, percent: slice.mirror.percent, allowNonIdempotent: slice.mirror.allowNonIdempotent, ignorePaths: slice.mirror.ignorePaths });
  let compared = 0;
  let mismatched = 0;
  let extensions = 0;
  let after = before;
  try {
    for (;;) {
      after = await watchShadow(slice.name, slice.mirror.durationMs, before, traffic.shadowStats.bind(traffic), control, journal);
      compared = after.compared - before.compared;
      mismatched = after.mismatched - before.mismatched;
      if (compared >= slice.gates.minRequests || extensions >= slice.analysis.maxExtensions) break;
      extensions++;
      journal.append('shadow-extended', { slice: slice.name, compared, minRequests: slice.gates.minRequests, extension: extensions });
    }
  } finally {
    await traffic.setMirror({ enabled: false, percent: 0 });
  }
  const rate = compared > 0 ? mismatched / compared : 0;
  const samples = after.samples ?? [];
  if (compared < slice.gates.minRequests) {
    const message = `shadow compared ${compared} mirrored requests, fewer than gates.minRequests (${slice.gates.minRequests}): inconclusive`;
    if (slice.analysis.onInconclusive !== 'advance') {
      throw new FerryError('shadow.inconclusive', message, { fix: 'send traffic to the slice during the shadow window, lengthen traffic.mirror.duration or raise traffic.mirror.percent' });
    }
    return { compared, mismatched, inconclusive: true, extensions };
  }
  if (slice.maxMismatchRate !== undefined && rate > slice.maxMismatchRate) {
    throw new FerryError('shadow.mismatch', `shadow responses differ on ${(rate * 100).toFixed(2)} % of ${compared} mirrored requests (limit ${(slice.maxMismatchRate * 100).toFixed(2)} %)`, {
      fix: `differing paths: ${describeSamples(samples)}; fix the target or ignore volatile JSON paths in traffic.mirror.ignoreJsonPaths`,
    });
  }
  return { compared, mismatched, mismatchRate: rate, extensions, samples };
}

/** How often a shadow window journals its running comparison (the dashboard's live mismatch rate). */
const SHADOW_SAMPLE_MS = 1000;

/**
 * Waits out one shadow window, journaling `shadow-sample` (compared and mismatched since the
 * stage started, the latest differing pairs' paths) each second the comparison moved, and
 * returns the provider's stats at its end.
 */
async function watchShadow(slice: string, durationMs: number, before: ShadowStats, stats: () => Promise<ShadowStats>, control: StageContext['control'], journal: StageContext['journal']): Promise<ShadowStats> {
  let left = durationMs;
  let lastCompared = -1;
  for (;;) {
    const wait = Math.min(left, SHADOW_SAMPLE_MS);
    await control.sleep(wait);
    left -= wait;
    const now = await stats();
    const compared = now.compared - before.compared;
    if (left <= 0) return now;
    if (compared === lastCompared) continue;
    lastCompared = compared;
    journal.append('shadow-sample', { slice, compared, mismatched: now.mismatched - before.mismatched, samples: (now.samples ?? []).slice(-3) });
  }
}

function describeSamples(samples: unknown[]): string {
  const paths = new Set<string>();
  for (const sample of samples as Array<{ differences?: Array<{ reason?: string; path?: string }> }>) {
    for (const difference of sample.differences ?? []) paths.add(`${difference.reason}${difference.path ? ` ${difference.path}` : ''}`);
  }
  return [...paths].slice(0, 5).join(', ') || 'none kept';
}

async function cutOverData({ slice, services, journal }: StageContext): Promise<StageResult> {
  const data = services.data!;
  // The applications follow their database inside the write pause (data.clientAccess); a
  // re-run after a crash points them again, which changes nothing.
  const report = await data.cutover({
    finalParity: true,
    maxWritePauseMs: slice.maxWritePauseMs,
    ...(services.repointData ? { pointApplications: services.repointData } : {}),
    onGiveBack: (event) => journal.append('write-pause-given-back', { slice: slice.name, ...event }),
  });
  if (report.parity && !report.parity.ok) {
    throw new FerryError('data.parity', `final parity after cutover found ${report.parity.differences.length} differing row(s); the target is open and replication back to the source runs`, {
      fix: 'inspect the rows, then `ferry rollback` (no write is lost) or fix them on the target',
      facts: { rows: report.parity.rows, differences: report.parity.differences.length, transientDifferences: report.parity.transientDifferences },
    });
  }
  // CronJobs and singletons run where the data is: on the target from now on.
  await singletonsAt('data-cutover', { slice, services, journal });
  return { writePauseMs: report.writePauseMs, maxWritePauseMs: report.maxWritePauseMs, ...(report.pauseOverLimitMs ? { pauseOverLimitMs: report.pauseOverLimitMs } : {}), givenBack: report.givenBack.length, lockAttempts: report.lockAttempts, failedFreezeMs: report.failedFreezeMs, alreadyDone: report.alreadyDone, sequencesCopied: report.sequencesCopied, reverse: report.reverseDirection, applicationsRepointed: Boolean(services.repointData), ...(report.parity ? { finalParity: { ok: report.parity.ok, rows: report.parity.rows, differences: report.parity.differences.length, transientDifferences: report.parity.transientDifferences } } : {}) };
}

async function soak({ slice, control, services, journal }: StageContext): Promise<StageResult> {
  // The target took everything (ramp or data cutover done): its external-dns owns the slice's names from now on.
  const handedOver = await services.handover?.moveDnsOwnership('target', journal) ?? {};
  await control.sleep(slice.soakMs);
  return { soakMs: slice.soakMs, ...handedOver };
}

/**
 * Retires the source, but not before `rollback.keepSourceFor` has passed since the slice
 * reached 100 %: until then the source stays ready to take its traffic back.
 */
async function decommission(ctx: StageContext): Promise<StageResult> {
  const { slice, services, control, journal, env } = ctx;
  // From the moment the target took everything: the ramp's end, or the data cutover's for a slice without traffic.
  const fullAt = ctx.recordsOf('stage-completed').filter((record) => record.data.slice === slice.name && (record.data.stage === 'ramp' || record.data.stage === 'data-cutover')).at(-1)?.at;
  if (fullAt && slice.rollback.keepSourceForMs > 0) {
    const until = Date.parse(fullAt) + slice.rollback.keepSourceForMs;
    if (until > env.clock.now()) {
      const announced = ctx.recordsOf('source-kept').some((record) => record.data.slice === slice.name);
      if (!announced) journal.append('source-kept', { slice: slice.name, until: new Date(until).toISOString(), reason: 'rollback.keepSourceFor' });
      env.onProgress?.({ slice: slice.name, stage: 'decommission', detail: `source kept ready until ${new Date(until).toISOString()} (rollback.keepSourceFor)` });
      await control.sleep(until - env.clock.now());
    }
  }
  // Before the source retires, the target runs the slice's CronJobs and singletons (a slice without traffic or data switches here).
  await singletonsAt('decommission', ctx);
  const idle = await checkSourceIdle(ctx);
  const keepServices = env.bridges?.bridged(journal, 'source');
  // A self-healing GitOps controller would scale the source back up: its sync is suspended (and read back) first.
  const retires = slice.decommission.scaleSourceToZero || slice.decommission.deleteSource;
  const gitops = retires ? await services.handover?.suspendSourceSync(journal, (detail) => env.onProgress?.({ slice: slice.name, stage: 'decommission', detail })) : undefined;
  const report = await services.decommission({ ...slice.decommission, ...(keepServices ? { keepServices } : {}) });
  return { ...report, ...idle, ...gitops };
}

/**
 * Decommission only what nobody calls: the source workloads must have received no call
 * during the soak (callers the plan knows about reach the slice through bridges by then), or
 * the stage is held naming the callers telemetry saw — someone the plan did not know about.
 */
async function checkSourceIdle({ slice, services, control, env, recordsOf }: StageContext): Promise<StageResult> {
  // A source that stays up (neither scaled to zero nor deleted) keeps answering whoever calls it.
  if (!slice.decommission.requireIdle || !(slice.decommission.scaleSourceToZero || slice.decommission.deleteSource)) return {};
  if (!services.sourceCallers) return { idleCheck: 'skipped: the plan has no metrics (spec.metrics) to see calls with' };
  const soakStarted = recordsOf('stage-started').filter((record) => record.data.slice === slice.name && record.data.stage === 'soak').at(-1)?.at;
  const delayMs = services.telemetryDelayMs ?? 5_000;
  // The last calls of the window reach Prometheus one scrape later.
  await control.sleep(Math.round(delayMs * 1.5));
  // The counter's value at the window's start is Prometheus' last sample before it, up to one
  // scrape older: starting two scrapes after the switch keeps calls made before it out.
  const since = soakStarted ? Date.parse(soakStarted) + 2 * delayMs : env.clock.now() - slice.soakMs;
  const windowSeconds = Math.max(delayMs / 1000, (env.clock.now() - since) / 1000);
  // Unreadable telemetry holds the stage: a monitoring outage must not roll back a finished move.
  const callers = await services.sourceCallers(windowSeconds, slice.decommission.idleQuery).catch((error: unknown) => {
    throw new FerryError('decommission.held', `slice ${slice.name}: cannot tell whether the source still receives calls: ${toFerryError(error).message}`, {
      location: { object: `slice ${slice.name}` },
      fix: 'make the plan\'s Prometheus reachable, then `ferry resume`; or set decommission.requireIdle: false for this slice',
    });
  });
  if (callers.length > 0) {
    const named = callers.slice(0, 5).map((caller) => `${caller.workload} (namespace ${caller.namespace}, cluster ${caller.cluster}): ${caller.calls} call(s)`).join('; ');
    throw new FerryError('decommission.held', `slice ${slice.name}: the source still received calls in the last ${Math.round(windowSeconds)} s, so it is not retired: ${named}`, {
      location: { object: `slice ${slice.name}` },
      fix: 'move or re-point those callers (or add them to the plan with the ferry.dev/depends-on annotation and re-plan), then `ferry resume`; or set decommission.requireIdle: false for this slice',
    });
  }
  return { idleCheck: 'no calls', idleWindowSeconds: Math.round(windowSeconds) };
}
