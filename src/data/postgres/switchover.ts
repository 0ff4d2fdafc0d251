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
 */
import { FerryError } from '../../util/errors.js';
import { failpoint } from '../../util/failpoint.js';
import type { ParityOptions, Side, SwitchoverOptions, SwitchoverReport } from '../provider.js';
import type { PgConn, PgSide } from './connection.js';
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

export async function switchover(ctx: SwitchoverContext, freezeSide: Side, options: SwitchoverOptions = {}): Promise<SwitchoverReport> {
  const openSide: Side = freezeSide === 'source' ? 'target' : 'source';
  const from = freezeSide === 'source' ? ctx.source : ctx.target;
  const to = freezeSide === 'source' ? ctx.target : ctx.source;
  const oldDir = freezeSide === 'source' ? ctx.forward : ctx.reverse;
  const newDir = freezeSide === 'source' ? ctx.reverse : ctx.forward;
  const lockTimeoutMs = options.lockTimeoutMs ?? 500;
  const lockAttempts = options.lockAttempts ?? 6;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const steps: SwitchoverReport['steps'] = [];
  // Each finished step is a crash point (`FERRY_FAILPOINT=switchover:<step>`), named without direction.
  const done = (step: string, ms: number) => {
    steps.push({ step, ms });
    failpoint(`switchover:${step.split(' ')[0]}`);
  };
  const report = (partial: Partial<SwitchoverReport>): SwitchoverReport => ({
    from: freezeSide,
    to: openSide,
    alreadyDone: false,
    writePauseMs: 0,
    steps,
    sequencesCopied: 0,
    lockAttempts: 0,
    failedFreezeMs: 0,
    parity: null,
    reverseDirection: newDir.id,
    ...partial,
  });

  // Observe: where did a previous (maybe crashed) run stop?
  const [oldSub, newSub, fromClosed, toClosed] = await Promise.all([
    subscriptionExists(to, oldDir),
    subscriptionExists(from, newDir),
    writesClosed(from, ctx.tables),
    writesClosed(to, ctx.tables),
  ]);
  if (!oldSub.exists && newSub.exists && fromClosed) {
    // Done, or crashed after closing the old side: finish by opening the new side.
    if (toClosed) await to.q(`begin;\n${openWritesSql(ctx.tables)}\ncommit;`);
    await dropSlot(from, oldDir.id);
    return report({ alreadyDone: !toClosed });
  }
  if (newSub.exists) {
    // Crashed inside the pause before the old side was closed: undo the new direction and redo.
    await dropSubscription(from, newDir);
  }
  if (!oldSub.exists) {
    if (!(await slotExists(from, oldDir.id))) {
      throw new FerryError('data.cutover', `nothing replicates ${freezeSide} → ${openSide} (no subscription ${oldDir.id} and no slot): switching now would lose writes`, {
        fix: freezeSide === 'source' ? 'run `ferry data sync` and wait for it to catch up' : 'run `ferry data cutover` first',
      });
    }
    await ensureSubscription(to, oldDir, ctx.conninfo(freezeSide), { copyData: false, createSlot: false });
  }

  // Before the pause: everything that can be prepared without stopping writes.
  let t = performance.now();
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
  if (!toClosed) await to.q(`begin;\n${closeWritesSql(ctx.tables, `${openSide} is a replica of ${freezeSide}`)}\ncommit;`);
  const maxLag = (options.maxLagBeforeFreezeMs ?? 1_000) / 1000;
  const lagDeadline = Date.now() + drainTimeoutMs;
  while (true) {
    const beat = await heartbeat(from, to, oldDir, drainTimeoutMs);
    if (beat.seconds !== null && beat.seconds <= maxLag) break;
    if (Date.now() > lagDeadline || beat.seconds === null) {
      const errors = await to.q<{ a: string }>(`select apply_error_count::text as a from pg_stat_subscription_stats where subname = $1`, [oldDir.id]);
      const applyErrors = Number(errors[0]?.a ?? 0);
      throw new FerryError('data.cutover', `replication ${oldDir.id} lags ${beat.seconds ?? `more than ${drainTimeoutMs / 1000}`} s${applyErrors > 0 ? ` and its apply worker failed ${applyErrors} times` : ''}; freezing now would pause writes that long`, {
        fix: applyErrors > 0 ? `read the ${openSide}'s server log for the failing statement and fix it; the worker retries` : 'wait for the lag to drop (large transactions in flight?) and run the cutover again',
      });
    }
    await sleep(200);
  }
  done('prepare', performance.now() - t);

  const freeze = await from.open();
  // Sessions that will hold the frozen snapshots are opened now: a login costs ~15 ms of pause.
  const holders: Array<{ side: PgSide; conn: PgConn }> = [];
  if (options.finalParity !== false) {
    for (const db of [ctx.source, ctx.target]) holders.push({ side: db, conn: await db.open() });
  }
  let committed = false;
  try {
    // Freeze: queue writers behind an EXCLUSIVE lock, bounded per attempt by lock_timeout.
    let attempts = 0;
    let pauseStart = 0;
    let queuedMs = 0;
    const quoted = (await lockOrder(from, ctx.tables)).map((table) => `"${table.split('.')[0]!.replace(/"/g, '""')}"."${table.slice(table.indexOf('.') + 1).replace(/"/g, '""')}"`);
    while (true) {
      attempts++;
      pauseStart = performance.now();
      try {
        await freeze.q(`begin; set local lock_timeout = ${Math.round(lockTimeoutMs)}; lock table ${quoted.join(', ')} in exclusive mode`);
        break;
      } catch (error) {
        await freeze.q('rollback').catch(() => undefined);
        // Writers queued behind the lock request for that long, then went on.
        queuedMs += performance.now() - pauseStart;
        if (attempts >= lockAttempts) {
          const blockers = await from.q<{ pid: number; age: number; query: string }>(
            `select pid, extract(epoch from now() - xact_start)::float8 as age, left(query, 60) as query from pg_stat_activity
              where backend_xid is not null and pid <> pg_backend_pid() order by xact_start limit 3`,
          );
          throw new FerryError('data.cutover', `could not freeze writes on the ${freezeSide} in ${attempts} attempts of ${lockTimeoutMs} ms: long write transactions hold the tables (${blockers.map((b) => `pid ${b.pid} open ${b.age.toFixed(1)} s`).join(', ') || String((error as Error).message)})`, {
            fix: 'let those transactions finish (or end them) and run the cutover again; nothing was changed',
            cause: error,
          });
        }
        await sleep(100 * attempts);
      }
    }
    done('freeze', performance.now() - pauseStart);

    t = performance.now();
    const drained = await heartbeat(from, to, oldDir, drainTimeoutMs);
    if (drained.seconds === null) {
      throw new FerryError('data.cutover', `replication did not drain within ${drainTimeoutMs} ms while writes were frozen; writes are open again on the ${freezeSide}`, {
        fix: 'a large transaction may still be in flight: wait for the lag to drop and run the cutover again',
      });
    }
    done('drain', performance.now() - t);

    t = performance.now();
    const sequencesCopied = await copySequences(from, to, ctx.schemas);
    done('sequences', performance.now() - t);

    // Frozen, drained: hold a snapshot of each side for the final parity, run after the target opens.
    let snapshots: { source: string; target: string } | null = null;
    if (holders.length > 0) {
      t = performance.now();
      const ids = await Promise.all(
        holders.map(async ({ conn }) => {
          await conn.q('begin isolation level repeatable read read only');
          return (await conn.one<{ s: string }>('select pg_export_snapshot() as s')).s;
        }),
      );
      snapshots = { source: ids[0]!, target: ids[1]! };
      done('snapshots', performance.now() - t);
    }

    t = performance.now();
    await detachSubscription(to, oldDir);
    done(`detach ${oldDir.id}`, performance.now() - t);
    t = performance.now();
    await ensureSubscription(from, newDir, ctx.conninfo(openSide), { copyData: false, createSlot: true });
    done(`start ${newDir.id}`, performance.now() - t);

    t = performance.now();
    await freeze.q(`${closeWritesSql(ctx.tables, `moved to the ${openSide} by ferry`)}\ncommit;`);
    committed = true;
    done(`close ${freezeSide}`, performance.now() - t);
    t = performance.now();
    await to.q(`begin;\n${openWritesSql(ctx.tables)}\ncommit;`);
    const pauseEnd = performance.now();
    done(`open ${openSide}`, pauseEnd - t);
    const writePauseMs = pauseEnd - pauseStart;

    t = performance.now();
    await dropSlot(from, oldDir.id);
    done(`drop slot ${oldDir.id}`, performance.now() - t);

    let parity = null;
    if (snapshots) {
      t = performance.now();
      parity = await runParity(ctx.source, ctx.target, { mode: 'frozen', snapshots }, { ...ctx.parity, ...options.parity, schemas: ctx.schemas });
      done('final parity', performance.now() - t);
    }
    t = performance.now();
    const reverseBeat = await heartbeat(to, from, newDir, 10_000);
    if (reverseBeat.seconds === null) {
      throw new FerryError('data.cutover', `the ${openSide} is open, but replication back to the ${freezeSide} (${newDir.id}) did not deliver a heartbeat within 10 s`, {
        fix: `check the ${freezeSide}'s server log for apply errors; writes are kept in slot ${newDir.id} meanwhile`,
      });
    }
    done(`verify ${newDir.id}`, performance.now() - t);
    return report({ writePauseMs, sequencesCopied, lockAttempts: attempts, failedFreezeMs: queuedMs, parity });
  } finally {
    if (!committed) await freeze.q('rollback').catch(() => undefined);
    await from.release(freeze);
    for (const holder of holders) await holder.side.release(holder.conn);
  }
}

/**
 * The order to take the freeze locks in: referenced tables before the tables that reference
 * them. `LOCK TABLE a, b` locks one table after the other; applications usually write the
 * parent first (update the product's stock, then insert the order). Locking the child first
 * holds it while waiting for a transaction that already wrote the parent and now needs the
 * child: a deadlock that lock_timeout breaks on every attempt under steady load (the demo's
 * cutover failed 6 attempts in a row with alphabetical order, orders < products).
 */
export async function lockOrder(db: PgSide | PgConn, tables: readonly string[]): Promise<string[]> {
  const edges = await db.q<{ child: string; parent: string }>(
    `select cn.nspname || '.' || c.relname as child, pn.nspname || '.' || p.relname as parent
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid join pg_namespace cn on cn.oid = c.relnamespace
       join pg_class p on p.oid = k.confrelid join pg_namespace pn on pn.oid = p.relnamespace
      where k.contype = 'f' and k.conrelid <> k.confrelid`,
  );
  const wanted = new Set(tables);
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of edges) if (wanted.has(child) && wanted.has(parent)) parents.get(child)!.add(parent);
  // Depth-first, parents before children; a cycle of foreign keys is broken where it is met.
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (table: string) => {
    if (state.has(table)) return;
    state.set(table, 'visiting');
    for (const parent of [...parents.get(table)!].sort()) visit(parent);
    state.set(table, 'done');
    ordered.push(table);
  };
  for (const table of [...tables].sort()) visit(table);
  return ordered;
}
