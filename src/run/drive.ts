import { existsSync } from 'node:fs';
import type { Journal } from '../journal/journal.js';
import { openRunJournal, type JournalTrustConfig } from '../journal/trust.js';
import { attachNotifications } from '../notify/index.js';
import { assertRunnable } from '../plan/runnable.js';
import type { MigrationPlan } from '../plan/schema.js';
import { FerryError, toFerryError } from '../util/errors.js';
import { executeRun } from './engine.js';
import { planEnvironment, type PlanEnvironmentOptions } from './environment.js';
import type { RunState } from './model.js';
import { rollbackRun } from './rollback.js';
import { deriveRunState } from './state.js';
import { acquireRunLeases, type RunLeases } from './lease-lock.js';
import { acquireLock, createRun, discardRun, openRun, requestControl, runFiles, runStarted, takeControlRequests, type RunFiles } from './store.js';

export interface DriveOptions extends Omit<PlanEnvironmentOptions, 'control'> {
  /** Where runs are kept (`.ferry` by default, see `stateDir`). */
  stateDir: string;
  /** Told the run's files as soon as they exist (before anything moves). */
  onStarted?: (files: RunFiles) => void;
  /** Where the journal's key and anchored head live (default: the user's key file and anchors beside it). */
  journal?: JournalTrustConfig;
  /**
   * Called once the run's journal is open, before anything moves: what watches the run from
   * this process (the dashboard, `--metrics-port`, notifications) subscribes here. A returned
   * function is awaited when the drive ends, before the journal closes (flush what you sent).
   */
  onJournal?: JournalWatcher;
}

/** What watches a run's journal from the driving process; the returned function is awaited at the drive's end. */
export type JournalWatcher = (journal: Journal, files: RunFiles, plan: MigrationPlan) => void | (() => Promise<void>);

/** Several watchers as one (the dashboard, --metrics-port, notifications): attached in order, finished together. */
export function watchTogether(...watchers: Array<JournalWatcher | undefined>): JournalWatcher {
  return (journal, files, plan) => {
    const done = watchers.map((watch) => watch?.(journal, files, plan)).filter((each): each is () => Promise<void> => typeof each === 'function');
    return async () => {
      // Each finishes what it was sent (bounded by each), never failing the run.
      await Promise.all(done.map((each) => each().catch(() => undefined)));
    };
  };
}

export interface DriveResult {
  files: RunFiles;
  state: RunState;
  /** Why the run stopped short, when it did (also in the journal). */
  error?: FerryError;
}

/**
 * `ferry run` as a library call — what the CLI, `ferry demo` and the controller use: refuse
 * a plan that cannot run before anything is touched (the same checks and words as
 * `ferry validate`), create the run, and drive it.
 */
export async function startRun(plan: MigrationPlan, options: DriveOptions & { planFile?: string; positionOf?: (path: Array<string | number>) => { line?: number; column?: number } }): Promise<DriveResult> {
  assertRunnable(plan, { env: options.env ?? process.env, ...(options.planFile ? { file: options.planFile } : {}), ...(options.positionOf ? { positionOf: options.positionOf } : {}) });
  const files = createRun(options.stateDir, plan);
  return drive(files, plan, 'run', options, true);
}

/** Continues a run (the latest by default) from where its journal says it stopped. */
export async function resumeRun(id: string | undefined, options: DriveOptions): Promise<DriveResult> {
  const { files, plan } = openRun(options.stateDir, id);
  return drive(files, plan, 'run', options);
}

/** Takes every moved slice of a run back to the source. */
/**
 * Rolls back the run's slices (all touched ones by default, or only `only`: e.g. one wave);
 * the slices left on the target keep reaching them through bridges.
 */
export async function rollBackRun(id: string | undefined, options: DriveOptions & { only?: RollbackSelection }): Promise<DriveResult> {
  const { files, plan } = openRun(options.stateDir, id);
  const slices = options.only ? selectSlices(plan, options.only) : undefined;
  return drive(files, plan, 'rollback', options, false, slices);
}

export interface RollbackSelection {
  /** Wave numbers, from 1. */
  waves?: number[];
  slices?: string[];
}

function selectSlices(plan: MigrationPlan, only: RollbackSelection): string[] {
  const names: string[] = [];
  for (const wave of only.waves ?? []) {
    const found = plan.spec.waves[wave - 1];
    if (!found) throw new FerryError('usage', `the plan has no wave ${wave} (it has ${plan.spec.waves.length})`, { location: { field: '--wave' }, fix: `a number from 1 to ${plan.spec.waves.length}` });
    names.push(...found.slices.map((slice) => slice.name));
  }
  const all = new Set(plan.spec.waves.flatMap((wave) => wave.slices.map((slice) => slice.name)));
  for (const slice of only.slices ?? []) {
    if (!all.has(slice)) throw new FerryError('usage', `the plan has no slice "${slice}"`, { location: { field: '--slice' }, fix: `one of: ${[...all].slice(0, 12).join(', ')}` });
    names.push(slice);
  }
  return [...new Set(names)];
}

async function drive(files: RunFiles, plan: MigrationPlan, mode: 'run' | 'rollback', options: DriveOptions, fresh = false, rollbackOnly?: string[]): Promise<DriveResult> {
  const release = acquireLock(files);
  const env = planEnvironment(plan, { ...options, control: async () => takeControlRequests(files) });
  let leases: RunLeases | undefined;
  let journal: Journal | undefined;
  try {
    // Keyed and anchored outside the run directory: a rewritten or truncated journal is refused first.
    journal = await openRunJournal(files.journal, { runId: files.id, plan, ...(options.journal ? { trust: options.journal } : {}), ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}) });
    // One run per target namespace and traffic route, across processes and machines.
    leases = await acquireRunLeases(plan, {
      ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
      runId: files.id,
      abandoned: (holder) => existsSync(runFiles(options.stateDir, holder).dir) && !runStarted(runFiles(options.stateDir, holder)),
      // Another run took our Lease (we stalled past its duration): stop at the next checkpoint.
      onLost: (lost) => {
        requestControl(files, { action: 'pause' });
        options.onProgress?.({ slice: 'run', stage: 'lease-lost', detail: lost.oneLine() });
      },
    });
    // Every slice's services are built before anything moves: a plan that cannot be run
    // (unset secrets, an unreachable Secret, a provider refusing its settings) fails here.
    for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) await env.servicesFor(slice.name);
    options.onStarted?.(files);
  } catch (caught) {
    await env.close?.();
    await journal?.close().catch(() => undefined);
    await leases?.release().catch(() => undefined);
    release();
    // A run that never started leaves no directory behind (`ferry status` would show it running forever).
    if (fresh) discardRun(files);
    throw toFerryError(caught);
  }
  const opened = journal;
  // Notifications (the plan's spec.notifications) attach here too, beside the caller's watchers.
  const notifications = attachNotifications({ ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}), ...(options.env ? { env: options.env } : {}), ...(options.onProgress ? { log: (detail: string) => options.onProgress?.({ slice: 'run', stage: 'notify', detail }) } : {}) });
  const detach = watchTogether(options.onJournal, notifications)(opened, files, plan);
  let error: FerryError | undefined;
  try {
    if (mode === 'run') await executeRun(files.id, plan, opened, env);
    else await rollbackRun(files.id, plan, opened, env, rollbackOnly);
  } catch (caught) {
    error = toFerryError(caught);
  } finally {
    await env.close?.();
    await detach?.();
    await opened.close().catch((caught: unknown) => {
      error ??= toFerryError(caught);
    });
    await leases.release().catch(() => undefined);
    release();
  }
  return { files, state: deriveRunState(files.id, plan, opened.records), ...(error ? { error } : {}) };
}
