/**
 * Cutover (source → target) and failback (target → source) are one procedure with the sides
 * swapped: freeze the side that has the writes, drain, copy sequences, detach the old
 * direction, start the new direction without copying data, close the old side, open the new.
 *
 * Why this freeze: `LOCK TABLE … IN EXCLUSIVE MODE` in a session Ferry holds. It waits for
 * every write transaction already running (they commit and are acknowledged before the
 * lock is granted), and it makes new writers *queue* instead of fail; plain reads go on.
 * `default_transaction_read_only` would only reach new sessions (pooled ones keep writing)
 * and terminating backends turns every in-flight request into an error. The lock's wait is
 * bounded by `lock_timeout` (a long transaction makes the attempt give up and retry, instead
 * of stalling all writers behind it). Before the lock is released, a statement trigger
 * guard is created in the same transaction, so writers that queued behind the lock fail
 * with SQLSTATE 25006 instead of writing to the old side: nothing is acknowledged there
 * that the new side does not have.
 *
 * No acknowledged write is lost: every write acknowledged on the old side committed before
 * the lock was granted, so it precedes the heartbeat committed after it, and the pause waits
 * until the new side has applied that heartbeat (apply is in commit order; large
 * transactions, which arrive only after their commit with streaming = off, are waited for
 * the same way, bounded by `drainTimeoutMs`). The new direction's slot is created before
 * the new side opens, so its first write is already captured.
 *
 * No loop: PostgreSQL 15 has no `origin = none`, so the old subscription is dropped before
 * the reverse one exists (copy_data = false: the data is already there). The old slot is
 * kept until the end, so a crash in the pause can re-attach to it and resume without loss.
 *
 * The pause has a budget (`maxWritePauseMs`, the plan's `data.maxWritePause`): writers queue
 * from the lock request on, so the lock's own wait counts. Before every step of the pause the
 * time left is checked, and the drain waits only as long as the budget allows. Out of time,
 * the freeze transaction is rolled back (writers go on at once, on the old side, which still
 * has the writes: nothing was closed yet) and the attempt is *given back*; the next attempt
 * repairs what the pause had started (drops the new subscription, re-attaches the old one to
 * its kept slot — the crash-recovery path), waits for low lag again and freezes again, up to
 * `lockAttempts`. Only closing the old side and opening the new one (two short commits) come
 * after the last check: their time is the only overrun possible, and it is reported.
 *
 * Applications follow inside the pause (`pointApplications`): after the new direction
 * exists and before the old side closes, so a failed or slow re-point can still be given
 * back. Writers it disconnects were queued behind the lock, so nothing acknowledged is lost.
 */
import { FerryError } from '../../util/errors.js';
import { failpoint } from '../../util/failpoint.js';
import type { GivenBackPause, ParityOptions, Side, SwitchoverOptions, SwitchoverReport } from '../provider.js';
import type { PgConn, PgSide } from './connection.js';
import { lockOrder } from './lock-order.js';
import { lockError, pauseError } from './pause-errors.js';
import { runParity } from './parity.js';
import {
  closeWritesSql,
  copySequences,
  detachSubscription,
  dropSlot,
  dropSubscription,
  ensureHelpers,
  HEARTBEAT_TABLE,
  ensurePublication,
  ensureSubscription,
  heartbeat,
  openWritesSql,
  slotExists,
  sleep,
  subscriptionExists,
  tableProgress,
  writesClosed,
  type Direction,
} from './replication.js';

export interface SwitchoverContext {
  source: PgSide;
  target: PgSide;
  tables: string[];
  schemas?: string[];
  forward: Direction;
  reverse: Direction;
  /** Connection string the subscriber uses to reach a publisher. */
  conninfo(side: Side): string;
  parity?: ParityOptions;
}

/** One switchover's fixed facts: which side freezes, which opens, its limits. */
interface Move {
  ctx: SwitchoverContext;
  options: SwitchoverOptions;
  freezeSide: Side;
  openSide: Side;
  from: PgSide;
  to: PgSide;
  oldDir: Direction;
  newDir: Direction;
  lockTimeoutMs: number;
  lockAttempts: number;
  drainTimeoutMs: number;
  /** null: no budget (the library's default; the plan and the CLI always set one). */
  maxPauseMs: number | null;
  /** Kept for the two commits after the last budget check (close old, open new). */
  tailReserveMs: number;
  step: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

type PauseOutcome =
  | { kind: 'switched'; pauseMs: number; sequencesCopied: number; snapshots: { source: string; target: string } | null }
  | { kind: 'lock-timeout'; pauseMs: number; error: unknown }
  | { kind: 'given-back'; pauseMs: number; step: string; reason: string; pointed: boolean; pointing?: Promise<unknown> };

export async function switchover(ctx: SwitchoverContext, freezeSide: Side, options: SwitchoverOptions = {}): Promise<SwitchoverReport> {
  const steps: SwitchoverReport['steps'] = [];
  const maxPauseMs = options.maxWritePauseMs ?? null;
  const move: Move = {
    ctx,
    options,
    freezeSide,
    openSide: freezeSide === 'source' ? 'target' : 'source',
    from: freezeSide === 'source' ? ctx.source : ctx.target,
    to: freezeSide === 'source' ? ctx.target : ctx.source,
    oldDir: freezeSide === 'source' ? ctx.forward : ctx.reverse,
    newDir: freezeSide === 'source' ? ctx.reverse : ctx.forward,
    // Half the budget at most for waiting on running transactions: the rest is for the drain and the switch.
    lockTimeoutMs: Math.max(1, Math.min(options.lockTimeoutMs ?? 500, maxPauseMs === null ? Infinity : maxPauseMs / 2)),
    lockAttempts: options.lockAttempts ?? 6,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    maxPauseMs,
    tailReserveMs: maxPauseMs === null ? 0 : Math.min(50, maxPauseMs / 5),
    // Each finished step is a crash point (`FERRY_FAILPOINT=switchover:<step>`), named without direction.
    step: async (name, fn) => {
      const t = performance.now();
      const value = await fn();
      steps.push({ step: name, ms: performance.now() - t });
      failpoint(`switchover:${name.split(' ')[0]}`);
      return value;
    },
  };
  const givenBack: GivenBackPause[] = [];
  let attempts = 0;
  let queuedMs = 0;
  const report = (partial: Partial<SwitchoverReport>): SwitchoverReport => ({
    from: freezeSide,
    to: move.openSide,
    alreadyDone: false,
    writePauseMs: 0,
    maxWritePauseMs: maxPauseMs,
    pauseOverLimitMs: 0,
    steps,
    sequencesCopied: 0,
    lockAttempts: attempts,
    failedFreezeMs: queuedMs,
    givenBack,
    parity: null,
    reverseDirection: move.newDir.id,
    ...partial,
  });

  let prepared = false;
  while (true) {
    if (!prepared) {
      const finished = await observeResumePoint(move);
      if (finished) return report({ alreadyDone: finished.alreadyDone });
      await move.step('prepare', () => prepare(move));
      prepared = true;
    }
    attempts++;
    const sessions = await openPauseSessions(move);
    let outcome: PauseOutcome;
    let parity: SwitchoverReport['parity'] = null;
    try {
      try {
        outcome = await freezeAndSwitch(move, sessions);
      } catch (error) {
        // The pause failed (writes are open again on the freeze side): put replication back
        // as it was — the old direction re-attached to its kept slot, no half-made new one —
        // rather than leave nothing replicating until the next run.
        await sessions.release();
        await observeResumePoint(move).catch(() => undefined);
        throw error;
      }
      // The snapshot holders stay open until the final parity has read their snapshots.
      if (outcome.kind === 'switched') parity = await afterPause(move, outcome.snapshots);
    } finally {
      await sessions.release();
    }
    if (outcome.kind === 'switched') {
      return report({
        writePauseMs: outcome.pauseMs,
        pauseOverLimitMs: maxPauseMs === null ? 0 : Math.max(0, outcome.pauseMs - maxPauseMs),
        sequencesCopied: outcome.sequencesCopied,
        lockAttempts: attempts,
        failedFreezeMs: queuedMs,
        parity,
      });
    }
    if (outcome.kind === 'lock-timeout') {
      // Writers queued behind the lock request for that long, then went on.
      queuedMs += outcome.pauseMs;
      if (attempts >= move.lockAttempts) throw await lockError(move, attempts, outcome.error);
    } else {
      const given: GivenBackPause = { attempt: attempts, pauseMs: outcome.pauseMs, step: outcome.step, reason: outcome.reason };
      givenBack.push(given);
      steps.push({ step: `give back (attempt ${attempts}, at ${outcome.step})`, ms: outcome.pauseMs });
      // The applications go back to the side that has the writes before anything else (after
      // a re-point that ran out of time has finished, so it cannot land after ours).
      await outcome.pointing?.catch(() => undefined);
      if (outcome.pointed) await move.options.pointApplications?.(freezeSide);
      move.options.onGiveBack?.(given);
      if (attempts >= move.lockAttempts) {
        // Leave replication as it was before the first attempt (old direction attached), not half-switched.
        await observeResumePoint(move);
        throw pauseError(move, givenBack);
      }
      // The next attempt repairs what this one started and waits for low lag again.
      prepared = false;
    }
    await sleep(100 * attempts);
  }
}

/**
 * Where did a previous (maybe crashed or given-back) attempt stop? Finishes a move that
 * only lacks opening the new side; undoes a half-started one so it can be redone.
 */
async function observeResumePoint(m: Move): Promise<{ alreadyDone: boolean } | null> {
  const { ctx, from, to, oldDir, newDir } = m;
  const [oldSub, newSub, fromClosed, toClosed] = await Promise.all([
    subscriptionExists(to, oldDir),
    subscriptionExists(from, newDir),
    writesClosed(from, ctx.tables),
    writesClosed(to, ctx.tables),
  ]);
  if (!oldSub.exists && newSub.exists && fromClosed) {
    // Done, or crashed after closing the old side: finish by opening the new side.
    await m.options.pointApplications?.(m.openSide);
    if (toClosed) await to.q(`begin;\n${openWritesSql(ctx.tables)}\ncommit;`);
    await dropSlot(from, oldDir.id);
    return { alreadyDone: !toClosed };
  }
  if (newSub.exists) {
    // Stopped inside the pause before the old side was closed: undo the new direction and redo.
    await dropSubscription(from, newDir, to);
  }
  if (!oldSub.exists) {
    if (!(await slotExists(from, oldDir.id))) {
      throw new FerryError('data.cutover', `nothing replicates ${m.freezeSide} → ${m.openSide} (no subscription ${oldDir.id} and no slot): switching now would lose writes`, {
        fix: m.freezeSide === 'source' ? 'run `ferry data sync` and wait for it to catch up' : 'run `ferry data cutover` first',
      });
    }
    await ensureSubscription(to, oldDir, ctx.conninfo(m.freezeSide), { copyData: false, createSlot: false });
  }
  return null;
}

/** Everything that can be made ready without stopping writes. */
async function prepare(m: Move): Promise<void> {
  const { ctx, from, to, oldDir, newDir, freezeSide, openSide } = m;
  const progress = await tableProgress(from, to, oldDir);
  const notReady = progress.filter((p) => p.state !== 'ready');
  if (notReady.length > 0) {
    throw new FerryError('data.cutover', `initial copy not finished for ${notReady.map((p) => `${p.table} (${p.state})`).join(', ')}`, {
      fix: 'wait for `ferry data sync --wait`, then cut over',
    });
  }
  await Promise.all([ensureHelpers(from), ensureHelpers(to)]);
  // The new direction's heartbeat row must exist on both sides; `sync` creates it on the source
  // before the initial copy. Inserting it here would replicate as a conflicting INSERT.
  const rows = await Promise.all([from, to].map((db) => db.q(`select 1 from ${HEARTBEAT_TABLE} where direction = $1`, [newDir.id])));
  if (rows.some((r) => r.length === 0)) {
    throw new FerryError('data.cutover', `heartbeat row ${newDir.id} is missing on the ${rows[0]!.length === 0 ? freezeSide : openSide}`, {
      fix: 'this sync was started by an older ferry or its helper rows were deleted: run `ferry data teardown` and sync again',
    });
  }
  await ensurePublication(to, newDir, ctx.tables);
  if (!(await writesClosed(to, ctx.tables))) await to.q(`begin;\n${closeWritesSql(ctx.tables, `${openSide} is a replica of ${freezeSide}`)}\ncommit;`);
  // Before the pause the applications reach the side that has the writes (a given-back or
  // crashed attempt may have pointed them away).
  await m.options.pointApplications?.(freezeSide);
  await waitForLowLag(m);
}

async function waitForLowLag(m: Move): Promise<void> {
  const { from, to, oldDir, drainTimeoutMs } = m;
  const maxLag = (m.options.maxLagBeforeFreezeMs ?? 1_000) / 1000;
  const lagDeadline = Date.now() + drainTimeoutMs;
  while (true) {
    const beat = await heartbeat(from, to, oldDir, drainTimeoutMs);
    if (beat.seconds !== null && beat.seconds <= maxLag) return;
    if (Date.now() > lagDeadline || beat.seconds === null) {
      const errors = await to.q<{ a: string }>(`select apply_error_count::text as a from pg_stat_subscription_stats where subname = $1`, [oldDir.id]);
      const applyErrors = Number(errors[0]?.a ?? 0);
      throw new FerryError('data.cutover', `replication ${oldDir.id} lags ${beat.seconds ?? `more than ${drainTimeoutMs / 1000}`} s${applyErrors > 0 ? ` and its apply worker failed ${applyErrors} times` : ''}; freezing now would pause writes that long`, {
        fix: applyErrors > 0 ? `read the ${m.openSide}'s server log for the failing statement and fix it; the worker retries` : 'wait for the lag to drop (large transactions in flight?) and run the cutover again',
      });
    }
    await sleep(200);
  }
}

interface PauseSessions {
  /** Holds the freeze transaction. */
  freeze: PgConn;
  /** One per side, to export the frozen snapshots for the final parity. */
  holders: Array<{ side: PgSide; conn: PgConn }>;
  release(): Promise<void>;
}

/** Sessions of one attempt, opened before the pause: a login costs ~15 ms of pause. */
async function openPauseSessions(m: Move): Promise<PauseSessions> {
  const freeze = await m.from.open();
  const holders: PauseSessions['holders'] = [];
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // A no-op after the commit; after an error, it ends the freeze so writers go on.
    await freeze.q('rollback').catch(() => undefined);
    await m.from.release(freeze);
    for (const holder of holders) await holder.side.release(holder.conn);
  };
  try {
    if (m.options.finalParity !== false) {
      for (const db of [m.ctx.source, m.ctx.target]) holders.push({ side: db, conn: await db.open() });
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { freeze, holders, release };
}

/**
 * One attempt at the pause, holding the freeze transaction from the lock to the commit that
 * closes the old side — or to the rollback that gives the writes back.
 */
async function freezeAndSwitch(m: Move, { freeze, holders }: PauseSessions): Promise<PauseOutcome> {
  const { ctx, from, to, oldDir, newDir, freezeSide, openSide, step } = m;
  let committed = false;
  let pointed = false;
  try {
    const quoted = (await lockOrder(from, ctx.tables)).map((table) => `"${table.split('.')[0]!.replace(/"/g, '""')}"."${table.slice(table.indexOf('.') + 1).replace(/"/g, '""')}"`);
    // Freeze: queue writers behind an EXCLUSIVE lock, bounded by lock_timeout.
    const pauseStart = performance.now();
    const elapsed = () => performance.now() - pauseStart;
    try {
      await step('freeze', () => freeze.q(`begin; set local lock_timeout = ${Math.round(m.lockTimeoutMs)}; lock table ${quoted.join(', ')} in exclusive mode`));
    } catch (error) {
      await freeze.q('rollback').catch(() => undefined);
      return { kind: 'lock-timeout', pauseMs: elapsed(), error };
    }
    const giveBack = async (at: string, reason: string, pointing?: Promise<unknown>): Promise<PauseOutcome> => {
      await freeze.q('rollback');
      return { kind: 'given-back', pauseMs: elapsed(), step: at, reason, pointed, pointing };
    };
    /** Budget left for a step, keeping the reserve for the two closing commits. */
    const left = () => (m.maxPauseMs === null ? Infinity : m.maxPauseMs - m.tailReserveMs - elapsed());

    const drainMs = Math.min(m.drainTimeoutMs, left());
    const drained = drainMs > 0 ? await step('drain', () => heartbeat(from, to, oldDir, drainMs)) : { arrived: false };
    if (!drained.arrived) {
      if (drainMs < m.drainTimeoutMs) return giveBack('drain', `replication ${oldDir.id} did not drain within the ${Math.max(0, Math.round(drainMs))} ms left`);
      throw new FerryError('data.cutover', `replication did not drain within ${m.drainTimeoutMs} ms while writes were frozen; writes are open again on the ${freezeSide}`, {
        fix: 'a large transaction may still be in flight: wait for the lag to drop and run the cutover again',
      });
    }
    if (left() <= 0) return giveBack('sequences', 'out of time after the drain');
    const sequencesCopied = await step('sequences', () => copySequences(from, to, ctx.schemas));

    // Frozen, drained: hold a snapshot of each side for the final parity, run after the new side opens.
    let snapshots: { source: string; target: string } | null = null;
    if (holders.length > 0) {
      const ids = await step('snapshots', () =>
        Promise.all(
          holders.map(async ({ conn }) => {
            await conn.q('begin isolation level repeatable read read only');
            return (await conn.one<{ s: string }>('select pg_export_snapshot() as s')).s;
          }),
        ),
      );
      snapshots = { source: ids[0]!, target: ids[1]! };
    }
    if (left() <= 0) return giveBack('detach', 'out of time before detaching the old direction');
    await step(`detach ${oldDir.id}`, () => detachSubscription(to, oldDir));
    if (left() <= 0) return giveBack('start', 'out of time before starting the new direction');
    // The new slot is made on the open side first (two steps: on one cluster CREATE SUBSCRIPTION
    // would wait for itself); each step is bounded by its own timeout (SUBSCRIBE_TIMEOUT_MS).
    await step(`start ${newDir.id}`, () => ensureSubscription(from, newDir, ctx.conninfo(openSide), { copyData: false, createSlot: true, publisher: to }));
    if (m.options.pointApplications) {
      if (left() <= 0) return giveBack('point', 'out of time before pointing the applications');
      pointed = true;
      const budget = left();
      const pointing = m.options.pointApplications(openSide);
      let inTime: boolean;
      try {
        // A re-point cannot be interrupted, but the pause need not wait for it past the budget.
        inTime = await step(`point applications at the ${openSide}`, () => within(pointing, budget));
      } catch (error) {
        await freeze.q('rollback');
        await m.options.pointApplications(freezeSide).catch(() => undefined);
        throw new FerryError('data.cutover', `could not point the applications at the ${openSide}: ${(error as Error).message}; writes are open again on the ${freezeSide}`, {
          location: { field: 'data.clientAccess' },
          fix: 'check data.clientAccess (is the endpoint or cluster reachable?) and run the cutover again',
          cause: error,
        });
      }
      if (!inTime) return giveBack('point', `the applications were not re-pointed within the ${Math.round(budget)} ms left`, pointing);
    }
    if (left() <= 0) return giveBack('close', 'out of time before closing the old side');

    await step(`close ${freezeSide}`, () => freeze.q(`${closeWritesSql(ctx.tables, `moved to the ${openSide} by ferry`)}\ncommit;`));
    committed = true;
    await step(`open ${openSide}`, () => to.q(`begin;\n${openWritesSql(ctx.tables)}\ncommit;`));
    return { kind: 'switched', pauseMs: elapsed(), sequencesCopied, snapshots };
  } finally {
    // Any error before the close commit ends the freeze at once: writers go on on the old side.
    if (!committed) await freeze.q('rollback').catch(() => undefined);
  }
}

/** Whether `work` settles within `ms` (its rejection is thrown; a late one is left to the caller). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** After the pause: drop the old slot, final parity on the frozen snapshots, verify the way back. */
async function afterPause(m: Move, snapshots: { source: string; target: string } | null): Promise<SwitchoverReport['parity']> {
  const { ctx, from, to, oldDir, newDir, step } = m;
  await step(`drop slot ${oldDir.id}`, () => dropSlot(from, oldDir.id));
  let parity = null;
  if (snapshots) {
    parity = await step('final parity', () => runParity(ctx.source, ctx.target, { mode: 'frozen', snapshots }, { ...ctx.parity, ...m.options.parity, schemas: ctx.schemas }));
  }
  const reverseBeat = await step(`verify ${newDir.id}`, () => heartbeat(to, from, newDir, 10_000));
  if (reverseBeat.seconds === null) {
    throw new FerryError('data.cutover', `the ${m.openSide} is open, but replication back to the ${m.freezeSide} (${newDir.id}) did not deliver a heartbeat within 10 s`, {
      fix: `check the ${m.freezeSide}'s server log for apply errors; writes are kept in slot ${newDir.id} meanwhile`,
    });
  }
  return parity;
}
