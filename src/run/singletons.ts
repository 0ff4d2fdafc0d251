/**
 * Singletons run on one side (issue #22). A slice's CronJobs and singleton workloads arrive
 * on the target held (src/apply/transforms/hold-singletons.ts); at the slice's cutover they
 * are switched — the source's suspended / scaled to 0 first, then the target's resumed /
 * scaled up — and switched back by a rollback before the target is retired.
 *
 * Exactly once across both clusters: the side giving up is suspended, given `settleMs` for a
 * reconcile already under way to finish, then its last schedule time (its
 * `status.lastScheduleTime`, or a newer Job's `batch.kubernetes.io/cronjob-scheduled-timestamp`)
 * is written as the taking side's `status.lastScheduleTime` before it is resumed. The
 * CronJob controller then starts only schedule times after the last one the other side ran:
 * without it, a resumed CronJob runs the latest time it "missed" while suspended — one the
 * other side already ran (upstream: "the missed jobs are scheduled immediately"). A time that
 * fell inside the switch itself is run once, a few seconds late, by the taking side.
 *
 * Every write is observe-then-ensure, so a switch run again (resume, a rollback of a slice
 * that never switched) changes nothing; what it changed is returned for the journal.
 */
import { systemClock } from '../analysis/clock.js';
import { FERRY_SINGLETONS_MANAGER } from '../apply/conflicts.js';
import { SCALABLE_KINDS, workloadKey } from '../apply/desired.js';
import { ResourcePaths } from '../apply/resources.js';
import { HELD_ANNOTATION, HELD_REPLICAS_ANNOTATION, isSingletonWorkload, plannedSingletons } from '../apply/transforms/hold-singletons.js';
import type { Journal } from '../journal/journal.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceRef, Slice } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';

export type SingletonSide = 'source' | 'target';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export interface SingletonSwitch {
  /** The side that runs the slice's singletons now. */
  to: SingletonSide;
  /** CronJobs resumed on `to` (`namespace/name`), with the schedule time handed over as their lastScheduleTime. */
  resumed: Array<{ cronJob: string; lastScheduleTime?: string }>;
  /** CronJobs suspended on the other side. */
  suspended: string[];
  /** Singleton workloads scaled up on `to` (`Kind namespace/name` → replicas). */
  scaledUp: Record<string, number>;
  /** Singleton workloads scaled to 0 on the other side (→ the replicas they had). */
  scaledDown: Record<string, number>;
  /** Why nothing could be done on a side (the source is exported YAML). */
  skipped?: string;
}

export interface SingletonClients {
  source?: KubeClient | undefined;
  target: KubeClient;
}

export interface SwitchOptions {
  /** How long the side giving up is left to finish a reconcile already under way (default 2 s). */
  settleMs?: number;
  /** How long to wait for a scaled-down singleton's pods to be gone (default 5 min). */
  drainTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

type Obj = Record<string, any>;

const other = (side: SingletonSide): SingletonSide => (side === 'source' ? 'target' : 'source');

/** Whether a switch changed anything (a switch that changed nothing is not journaled). */
export function switchChanged(report: SingletonSwitch): boolean {
  return report.resumed.length + report.suspended.length + Object.keys(report.scaledUp).length + Object.keys(report.scaledDown).length > 0;
}

/**
 * Makes `side` the one cluster that runs the slice's CronJobs and singleton workloads:
 * the other side's are suspended / scaled to 0 (and drained) first, then `side`'s held ones
 * are resumed / scaled up. A CronJob the user suspended stays suspended on both.
 */
export async function switchSingletons(side: SingletonSide, clients: SingletonClients, slice: Slice, options: SwitchOptions = {}): Promise<SingletonSwitch> {
  const report: SingletonSwitch = { to: side, resumed: [], suspended: [], scaledUp: {}, scaledDown: {} };
  const winner = clients[side];
  const loser = clients[other(side)];
  if (!winner) return { ...report, skipped: 'the source is exported YAML: nothing runs there that Ferry can switch' };
  if (!loser) report.skipped = 'the source is exported YAML: suspend its CronJobs and scale its singletons down yourself';
  const cronJobs = slice.resources.filter((ref) => ref.kind === 'CronJob' && ref.apiVersion.startsWith('batch/'));
  const workloads = slice.workloads.filter((ref) => SCALABLE_KINDS.has(ref.kind));
  if (cronJobs.length === 0 && workloads.length === 0) return report;
  const [winnerPaths, loserPaths] = await Promise.all([pathsOf(winner), loser ? pathsOf(loser) : undefined]);
  const sleep = options.sleep ?? ((ms: number) => systemClock.sleep(ms));

  // CronJobs: the losing side stops first, then the winning side starts after its last run.
  const handOvers: Array<{ ref: ResourceRef; live: KubeObject }> = [];
  let suspendedAt: number | undefined;
  for (const ref of cronJobs) {
    const live = await getOrUndefined(winner, winnerPaths(ref));
    if (!live) continue;
    const held = isHeld(live);
    const willRun = held || live.spec?.suspend !== true;
    if (willRun && loser) {
      const away = await getOrUndefined(loser, loserPaths!(ref));
      if (away && away.spec?.suspend !== true) {
        await patch(loser, loserPaths!(ref), { metadata: { annotations: { [HELD_ANNOTATION]: 'true' } }, spec: { suspend: true } });
        report.suspended.push(nameOf(ref));
        suspendedAt = Date.now();
      }
    }
    if (held) handOvers.push({ ref, live });
  }
  if (handOvers.length > 0 && suspendedAt !== undefined) await sleep(options.settleMs ?? 2_000);
  for (const { ref, live } of handOvers) {
    const last = latest([lastScheduleOf(live), loser ? await lastRunOn(loser, loserPaths!, ref) : undefined]);
    if (last && last !== lastScheduleOf(live)) {
      await winner.request({ method: 'PATCH', path: `${winnerPaths(ref)}/status`, query: { fieldManager: FERRY_SINGLETONS_MANAGER }, body: { status: { lastScheduleTime: last } }, contentType: 'application/merge-patch+json' });
    }
    await patch(winner, winnerPaths(ref), { metadata: { annotations: { [HELD_ANNOTATION]: null } }, spec: { suspend: false } });
    report.resumed.push({ cronJob: nameOf(ref), ...(last ? { lastScheduleTime: last } : {}) });
  }

  // Singleton workloads: the losing side drained to 0 before the winning side scales up, so they never run on both.
  const planned = plannedSingletons(slice);
  for (const ref of workloads) {
    const live = await getOrUndefined(winner, winnerPaths(ref));
    const away = loser ? await getOrUndefined(loser, loserPaths!(ref)) : undefined;
    if (!live || !(isSingletonWorkload(live, planned) || (away && isSingletonWorkload(away, planned)))) continue;
    const awayReplicas: number = away?.spec?.replicas ?? 0;
    const recorded = Number(live.metadata.annotations?.[HELD_REPLICAS_ANNOTATION]);
    const replicas = awayReplicas > 0 ? awayReplicas : Number.isInteger(recorded) ? recorded : 0;
    const winnerRuns = isHeld(live) || (live.spec?.replicas ?? 1) > 0;
    if (away && awayReplicas > 0 && winnerRuns) {
      await patch(loser!, loserPaths!(ref), { metadata: { annotations: { [HELD_ANNOTATION]: 'true', [HELD_REPLICAS_ANNOTATION]: String(awayReplicas) } }, spec: { replicas: 0 } });
      report.scaledDown[workloadKey(ref)] = awayReplicas;
      await drained(loser!, loserPaths!(ref), options.drainTimeoutMs ?? 300_000, sleep);
    }
    if (isHeld(live)) {
      await patch(winner, winnerPaths(ref), { metadata: { annotations: { [HELD_ANNOTATION]: null, [HELD_REPLICAS_ANNOTATION]: null } }, spec: { replicas } });
      if (replicas > 0) report.scaledUp[workloadKey(ref)] = replicas;
    }
  }
  return report;
}

/** The stage at which a slice's singletons move to the target: when its data does, else its traffic, else at decommission. */
export function singletonSwitchStage(services: { data?: unknown; traffic?: unknown }): 'data-cutover' | 'ramp' | 'decommission' {
  return services.data ? 'data-cutover' : services.traffic ? 'ramp' : 'decommission';
}

/** Runs a switch when the slice has one to make, and journals `singletons-switched` with what changed. */
export async function switchAndJournal(side: SingletonSide, switcher: ((side: SingletonSide) => Promise<SingletonSwitch>) | undefined, slice: string, journal: Journal, reason: string): Promise<SingletonSwitch | undefined> {
  if (!switcher) return undefined;
  const report = await switcher(side);
  if (switchChanged(report)) journal.append('singletons-switched', { slice, reason, ...report });
  return report;
}

/**
 * CronJobs a rollback re-created on the source from the target's running copies (after
 * `deleteSource`) arrive running: they are held until the switch back, so a schedule time
 * does not run on both clusters in between.
 */
export async function holdRecreated(client: KubeClient, slice: Slice, recreated: readonly string[]): Promise<void> {
  const pathOf = await pathsOf(client);
  for (const ref of slice.resources.filter((r) => r.kind === 'CronJob' && recreated.includes(`CronJob ${nameOf(r)}`))) {
    await patch(client, pathOf(ref), { metadata: { annotations: { [HELD_ANNOTATION]: 'true' } }, spec: { suspend: true } });
  }
}

/** The slice's singletons move to the target at `stage` (its switch stage); decommission ensures it for every slice. */
export async function singletonsAt(stage: 'ramp' | 'data-cutover' | 'decommission', ctx: { slice: { name: string }; services: { data?: unknown; traffic?: unknown; switchSingletons?: (side: SingletonSide) => Promise<SingletonSwitch> }; journal: Journal }): Promise<void> {
  if (stage !== 'decommission' && singletonSwitchStage(ctx.services) !== stage) return;
  await switchAndJournal('target', ctx.services.switchSingletons, ctx.slice.name, ctx.journal, stage);
}

/** Singleton workloads Ferry holds at 0 on a cluster (`Kind namespace/name`): a restore must leave them to the switch. */
export async function heldWorkloads(client: KubeClient, slice: Slice): Promise<Set<string>> {
  const pathOf = await pathsOf(client);
  const held = new Set<string>();
  for (const ref of slice.workloads.filter((w) => SCALABLE_KINDS.has(w.kind))) {
    const live = await getOrUndefined(client, pathOf(ref));
    if (live && isHeld(live) && live.metadata.annotations?.[HELD_REPLICAS_ANNOTATION] !== undefined) held.add(workloadKey(ref));
  }
  return held;
}

function isHeld(object: KubeObject): boolean {
  return object.metadata.annotations?.[HELD_ANNOTATION] === 'true';
}

function nameOf(ref: ResourceRef): string {
  return `${ref.namespace ?? 'default'}/${ref.name}`;
}

function lastScheduleOf(object: KubeObject): string | undefined {
  return (object.status as Obj | undefined)?.lastScheduleTime as string | undefined;
}

/** The newest schedule time a cluster ran for a CronJob: its status, or a newer Job it owns (a status not yet written). */
async function lastRunOn(client: KubeClient, pathOf: (ref: ResourceRef) => string, ref: ResourceRef): Promise<string | undefined> {
  const cronJob = await getOrUndefined(client, pathOf(ref));
  if (!cronJob) return undefined;
  const jobsPath = pathOf({ apiVersion: 'batch/v1', kind: 'Job', namespace: ref.namespace ?? 'default', name: '_' }).replace(/\/_$/, '');
  const jobs = await client.request<{ items: KubeObject[] }>({ path: jobsPath });
  const scheduled = jobs.items
    .filter((job) => job.metadata.ownerReferences?.some((owner) => owner.uid === cronJob.metadata.uid))
    .map((job) => job.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION]);
  return latest([lastScheduleOf(cronJob), ...scheduled]);
}

function latest(times: Array<string | undefined>): string | undefined {
  return times.filter((t): t is string => Boolean(t) && !Number.isNaN(Date.parse(t!))).sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
}

/** Waits until a workload scaled to 0 has no pods left (status.replicas 0), so it never runs on both sides. */
async function drained(client: KubeClient, path: string, timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 1_000)) {
    const live = await getOrUndefined(client, path);
    if (!live || ((live.status as Obj | undefined)?.replicas ?? 0) === 0) return;
    if (Date.now() > deadline) {
      throw new FerryError('singletons.drain', `${live.kind} ${live.metadata.namespace}/${live.metadata.name} still has ${(live.status as Obj).replicas} pod(s) ${Math.round(timeoutMs / 1000)} s after being scaled to 0, so its other copy is not started`, {
        location: { object: `${live.kind} ${live.metadata.namespace}/${live.metadata.name}` },
        fix: 'see why its pods do not stop (finalizers, a long terminationGracePeriodSeconds), then `ferry resume`',
      });
    }
    await sleep(wait);
  }
}

async function pathsOf(client: KubeClient): Promise<(ref: ResourceRef) => string> {
  const paths = new ResourcePaths(client);
  await paths.refresh();
  return (ref) => paths.pathOf({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace ?? 'default' } } as KubeObject);
}

async function getOrUndefined(client: KubeClient, path: string): Promise<(KubeObject & { spec?: Obj }) | undefined> {
  return client.request<KubeObject & { spec?: Obj }>({ path }).catch((error: FerryError) => {
    if (error.code === 'http-404') return undefined;
    throw error;
  });
}

function patch(client: KubeClient, path: string, body: unknown): Promise<unknown> {
  return client.request({ method: 'PATCH', path, query: { fieldManager: FERRY_SINGLETONS_MANAGER }, body, contentType: 'application/merge-patch+json' });
}
