/**
 * Replication objects Ferry owns, each ensured idempotently (observe, then create only what
 * is missing): the `ferry` helper schema (heartbeat table, write guard), publications,
 * subscriptions and their slots. Names carry the sync name and the direction, e.g.
 * `ferry_shop_s2t` (source → target) and `ferry_shop_t2s` (the reverse after cutover).
 */
import { FerryError } from '../../util/errors.js';
import type { LagReport, Side, TableProgress } from '../provider.js';
import { HELPER_SCHEMA } from './catalog.js';
import type { PgConn, PgSide } from './connection.js';
import { literal, qualified } from './sql.js';

export interface Direction {
  /** Subscription, publication and slot name. */
  id: string;
  from: Side;
  to: Side;
}

export function directions(name: string): { forward: Direction; reverse: Direction } {
  if (!/^[a-z0-9_]{1,40}$/.test(name)) {
    throw new FerryError('usage', `sync name "${name}" must be 1–40 characters of a-z, 0-9 and _`, { fix: 'choose another --name' });
  }
  return { forward: { id: `ferry_${name}_s2t`, from: 'source', to: 'target' }, reverse: { id: `ferry_${name}_t2s`, from: 'target', to: 'source' } };
}

export const HEARTBEAT_TABLE = `${HELPER_SCHEMA}.heartbeat`;
/** On a subscriber: how far a detached subscription had applied, so re-attaching it resumes there. */
const APPLIED_TABLE = `${HELPER_SCHEMA}.applied_upto`;
const GUARD = 'ferry_write_guard';

/**
 * The heartbeat's stamp trigger runs in the apply worker, which uses `search_path = ''`
 * (field notes): every name in it is schema-qualified, and it is `ENABLE ALWAYS` because
 * ordinary triggers do not fire during apply (session_replication_role = replica).
 * The write guard is an ordinary (ORIGIN) trigger for the same reason the other way round:
 * it stops applications, never the apply worker.
 */
export async function ensureHelpers(db: PgSide | PgConn): Promise<void> {
  await db.q(`
    create schema if not exists ${HELPER_SCHEMA};
    create table if not exists ${HEARTBEAT_TABLE} (direction text primary key, seq bigint not null, sent_at timestamptz not null, applied_at timestamptz);
    create table if not exists ${APPLIED_TABLE} (direction text primary key, lsn pg_lsn not null);
    create or replace function ${HELPER_SCHEMA}.stamp_heartbeat() returns trigger language plpgsql set search_path = '' as $$
      begin new.applied_at := pg_catalog.clock_timestamp(); return new; end $$;
    create or replace trigger ferry_stamp before insert or update on ${HEARTBEAT_TABLE} for each row execute function ${HELPER_SCHEMA}.stamp_heartbeat();
    alter table ${HEARTBEAT_TABLE} enable always trigger ferry_stamp;
    create or replace function ${HELPER_SCHEMA}.write_guard() returns trigger language plpgsql set search_path = '' as $$
      begin
        raise exception using errcode = '25006',
          message = pg_catalog.format('ferry: writes to %I.%I are closed on this database (%s)', tg_table_schema, tg_table_name, coalesce(tg_argv[0], 'not the primary')),
          hint = 'write to the database that ferry made primary';
      end $$;`);
}

export async function ensureHeartbeatRow(db: PgSide | PgConn, direction: Direction): Promise<void> {
  await db.q(`insert into ${HEARTBEAT_TABLE} (direction, seq, sent_at) values ($1, 0, clock_timestamp()) on conflict (direction) do nothing`, [direction.id]);
}

/**
 * Writes a heartbeat on the sender and waits until the receiver has applied it. Apply is in
 * commit order, so once it is there, every transaction committed on the sender before the
 * heartbeat is there too: "the receiver replayed past the sender's LSN".
 */
export async function heartbeat(
  from: PgSide | PgConn,
  to: PgSide | PgConn,
  direction: Direction,
  timeoutMs: number,
): Promise<{ seconds: number | null; lsn: string; arrived: boolean }> {
  const sent = await from.one<{ seq: string; lsn: string }>(
    `update ${HEARTBEAT_TABLE} set seq = seq + 1, sent_at = clock_timestamp() where direction = $1 returning seq::text, pg_current_wal_lsn()::text as lsn`,
    [direction.id],
  );
  if (!sent) throw new FerryError('data.heartbeat', `no heartbeat row for ${direction.id} on the ${direction.from}`, { fix: 'run `ferry data sync` again' });
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  while (true) {
    const row = await to.q<{ seq: string; lag: number | null }>(
      `select seq::text, extract(epoch from applied_at - sent_at)::float8 as lag from ${HEARTBEAT_TABLE} where direction = $1`,
      [direction.id],
    );
    const got = row[0];
    if (got && BigInt(got.seq) >= BigInt(sent.seq)) return { seconds: got.lag === null ? null : Math.max(0, Number(got.lag)), lsn: sent.lsn, arrived: true };
    if (Date.now() > deadline) return { seconds: null, lsn: sent.lsn, arrived: false };
    await sleep(wait);
    wait = Math.min(wait * 2, 20);
  }
}

export async function writesClosed(db: PgSide | PgConn, tables: string[]): Promise<boolean> {
  if (tables.length === 0) return false;
  const row = await db.one<{ n: number }>(
    `select count(*)::int as n from pg_trigger where tgname = $1 and tgrelid = any($2::text[]::regclass[])`,
    [GUARD, tables.map(qualified)],
  );
  return row.n === tables.length;
}

/** Statement-level guard on every table: application writes fail with SQLSTATE 25006. */
export function closeWritesSql(tables: string[], reason: string): string {
  return tables
    .map((table) => `create or replace trigger ${GUARD} before insert or update or delete or truncate on ${qualified(table)} for each statement execute function ${HELPER_SCHEMA}.write_guard(${literal(reason)});`)
    .join('\n');
}

export function openWritesSql(tables: string[]): string {
  return tables.map((table) => `drop trigger if exists ${GUARD} on ${qualified(table)};`).join('\n');
}

export async function ensurePublication(db: PgSide | PgConn, direction: Direction, tables: string[]): Promise<void> {
  const wanted = [...tables, HEARTBEAT_TABLE].map(qualified);
  const existing = await db.q<{ t: string }>(
    `select format('%I.%I', schemaname, tablename) as t from pg_publication_tables where pubname = $1`,
    [direction.id],
  );
  const exists = (await db.q(`select 1 from pg_publication where pubname = $1`, [direction.id])).length > 0;
  if (!exists) {
    await db.q(`create publication ${direction.id} for table ${wanted.join(', ')}`);
    return;
  }
  const have = new Set(existing.map((row) => row.t));
  if (wanted.length !== have.size || wanted.some((table) => !have.has(table))) await db.q(`alter publication ${direction.id} set table ${wanted.join(', ')}`);
}

export async function subscriptionExists(db: PgSide | PgConn, direction: Direction): Promise<{ exists: boolean; enabled: boolean }> {
  const rows = await db.q<{ enabled: boolean }>(`select subenabled as enabled from pg_subscription where subname = $1`, [direction.id]);
  return { exists: rows.length > 0, enabled: rows[0]?.enabled ?? false };
}

export async function slotExists(db: PgSide | PgConn, slot: string): Promise<boolean> {
  return (await db.q(`select 1 from pg_replication_slots where slot_name = $1`, [slot])).length > 0;
}

/** How long creating a slot or a subscription may wait on the publisher (running transactions, a slow connect). */
export const SUBSCRIBE_TIMEOUT_MS = 60_000;

/**
 * Settings for a statement that carries a conninfo with a password: the server must not write
 * it to its log when the statement fails (log_min_error_statement) or is logged
 * (log_statement). Both need a superuser, as CREATE SUBSCRIPTION does in PostgreSQL 15.
 */
const QUIET = `set local log_min_error_statement = panic; set local log_statement = 'none'`;

export async function ensureSubscription(
  db: PgSide | PgConn,
  direction: Direction,
  publisherConninfo: string,
  options: { copyData: boolean; createSlot: boolean; publisher?: PgSide | PgConn; timeoutMs?: number },
): Promise<void> {
  const rows = await db.q<{ enabled: boolean; slot: string | null }>(`select subenabled as enabled, subslotname as slot from pg_subscription where subname = $1`, [direction.id]);
  if (rows.length > 0) {
    // A detach interrupted between its statements leaves the subscription without its slot.
    if (rows[0]!.slot === null) await db.q(`alter subscription ${direction.id} set (slot_name = ${literal(direction.id)})`);
    if (!rows[0]!.enabled) await db.q(`alter subscription ${direction.id} enable`);
    return;
  }
  const timeoutMs = Math.max(1, Math.round(options.timeoutMs ?? SUBSCRIBE_TIMEOUT_MS));
  const hasProgressTable = (await db.q(`select 1 from pg_class where oid = to_regclass($1)`, [APPLIED_TABLE])).length > 0;
  if (options.createSlot) {
    if (!options.publisher) throw new FerryError('internal', `creating subscription ${direction.id} needs a session on its publisher`, { fix: 'this is a bug in Ferry: report it' });
    if (hasProgressTable) await db.q(`delete from ${APPLIED_TABLE} where direction = $1`, [direction.id]);
    // Two steps, as PostgreSQL documents for a publisher in the same cluster (CREATE
    // SUBSCRIPTION's own transaction would make its slot creation wait for itself, for
    // ever): the slot first, on the publisher, then the subscription with create_slot = false.
    // https://www.postgresql.org/docs/15/sql-createsubscription.html (Notes)
    await createSlot(options.publisher, direction, timeoutMs);
  }
  const applied = !options.createSlot && hasProgressTable ? (await db.q<{ lsn: string }>(`select lsn::text from ${APPLIED_TABLE} where direction = $1`, [direction.id]))[0]?.lsn : undefined;
  try {
    // Without a slot to create, CREATE SUBSCRIPTION may run in a transaction block: its
    // connect to the publisher is bounded by a local statement_timeout.
    await db.q(
      `begin; set local statement_timeout = ${timeoutMs}; ${QUIET};
       create subscription ${direction.id} connection ${literal(publisherConninfo)} publication ${direction.id}
         with (copy_data = ${options.copyData}, create_slot = false, slot_name = ${literal(direction.id)}, enabled = ${applied === undefined});
       commit;`,
    );
  } catch (error) {
    await db.q('rollback').catch(() => undefined);
    // Leave no slot behind: the one made for this subscription has no subscriber now.
    if (options.createSlot && options.publisher) await dropSlot(options.publisher, direction.id).catch(() => undefined);
    throw error;
  }
  if (applied !== undefined) {
    // Re-attached to a kept slot: its confirmed position trails what was applied (the
    // subscriber reports it only now and then), so without this the publisher re-sends
    // applied transactions and the apply worker fails on duplicate keys.
    await db.q(`select pg_replication_origin_advance('pg_' || oid, $2::pg_lsn) from pg_subscription where subname = $1`, [direction.id, applied]);
    await db.q(`alter subscription ${direction.id} enable`);
  }
}

/**
 * A fresh logical slot for `direction` on its publisher. One left by an earlier attempt that
 * stopped between the two steps is dropped first: its position is stale (at cutover it would
 * hold the old direction's applied changes and send them back). Creating a slot waits for the
 * publisher's running write transactions; the wait is bounded by `timeoutMs`.
 */
async function createSlot(publisher: PgSide | PgConn, direction: Direction, timeoutMs: number): Promise<void> {
  await dropSlot(publisher, direction.id);
  try {
    await publisher.q(`begin; set local statement_timeout = ${timeoutMs}; select pg_create_logical_replication_slot(${literal(direction.id)}, 'pgoutput'); commit;`);
  } catch (error) {
    await publisher.q('rollback').catch(() => undefined);
    if ((error as { cause?: { code?: string } }).cause?.code !== '57014') throw error;
    const waiting = await publisher
      .q<{ pid: number; age: number }>(
        `select pid, extract(epoch from now() - xact_start)::float8 as age from pg_stat_activity
          where backend_xid is not null and pid <> pg_backend_pid() order by xact_start limit 3`,
      )
      .catch(() => []);
    throw new FerryError(
      'data.slot-timeout',
      `creating replication slot ${direction.id} on the ${direction.from} waited ${(timeoutMs / 1000).toFixed(1)} s for running write transactions to end${waiting.length ? ` (${waiting.map((w) => `pid ${w.pid} open ${w.age.toFixed(1)} s`).join(', ')})` : ''}; no slot was left`,
      { fix: `let long write transactions on the ${direction.from} server (any database of it) finish, or end them, and run the command again`, cause: error },
    );
  }
}

/**
 * Drops a subscription but keeps its slot on the publisher, so a crash right after loses
 * nothing; how far it had applied is kept on the subscriber for `ensureSubscription`.
 */
export async function detachSubscription(db: PgSide | PgConn, direction: Direction): Promise<void> {
  if (!(await subscriptionExists(db, direction)).exists) return;
  await db.q(`alter subscription ${direction.id} disable`);
  await db.q(
    `insert into ${APPLIED_TABLE} (direction, lsn)
       select $1::text, s.remote_lsn from pg_replication_origin_status s join pg_subscription sub on s.external_id = 'pg_' || sub.oid
        where sub.subname = $1::text and s.remote_lsn is not null
     on conflict (direction) do update set lsn = excluded.lsn`,
    [direction.id],
  );
  await db.q(`alter subscription ${direction.id} set (slot_name = none)`);
  await db.q(`drop subscription ${direction.id}`);
}

/**
 * Drops a subscription and its slots on the publisher. DROP SUBSCRIPTION drops them through
 * the subscription's own conninfo; when that cannot reach the publisher (a wrong replication
 * URL, a timeout), the subscription is detached from its slot and dropped, and Ferry drops
 * the slot and any table-sync slots (`pg_<subid>_sync_…`) through its own session.
 */
export async function dropSubscription(db: PgSide | PgConn, direction: Direction, publisher?: PgSide | PgConn): Promise<boolean> {
  const rows = await db.q<{ oid: string }>(`select oid::text from pg_subscription where subname = $1`, [direction.id]);
  if (rows.length === 0) return false;
  try {
    await db.q(`drop subscription ${direction.id}`);
  } catch (error) {
    if (!publisher) throw error;
    await db.q(`alter subscription ${direction.id} disable`);
    await db.q(`alter subscription ${direction.id} set (slot_name = none)`);
    await db.q(`drop subscription ${direction.id}`);
    const slots = await publisher.q<{ s: string }>(`select slot_name::text as s from pg_replication_slots where slot_name = $1 or slot_name like $2`, [direction.id, `pg\\_${rows[0]!.oid}\\_sync\\_%`]);
    for (const slot of slots) await dropSlot(publisher, slot.s);
  }
  return true;
}

/**
 * Drops a slot once its walsender has gone (a just-disabled subscription lets go within
 * moments). After `timeoutMs` its walsender is terminated; after twice that, Ferry gives up
 * with an error naming the slot rather than wait for ever.
 */
export async function dropSlot(db: PgSide | PgConn, slot: string, timeoutMs = 10_000): Promise<boolean> {
  const start = Date.now();
  while (true) {
    const rows = await db.q<{ active_pid: number | null }>(`select active_pid from pg_replication_slots where slot_name = $1`, [slot]);
    if (rows.length === 0) return false;
    const pid = rows[0]!.active_pid;
    if (pid === null) {
      await db.q(`select pg_drop_replication_slot($1)`, [slot]);
      return true;
    }
    const waited = Date.now() - start;
    if (waited > 2 * timeoutMs) {
      throw new FerryError('data.slot', `replication slot ${slot} on the ${db.endpoint.side} is still in use by pid ${pid} after ${Math.round(waited / 1000)} s`, {
        fix: `find what streams from it (pg_stat_replication on the ${db.endpoint.side}), stop it, and run \`ferry data teardown\``,
      });
    }
    if (waited > timeoutMs) await db.q(`select pg_terminate_backend($1)`, [pid]);
    await sleep(50);
  }
}

export async function dropPublication(db: PgSide | PgConn, name: string): Promise<boolean> {
  const rows = await db.q(`select 1 from pg_publication where pubname = $1`, [name]);
  if (rows.length === 0) return false;
  await db.q(`drop publication ${name}`);
  return true;
}

const STATES: Record<string, TableProgress['state']> = { i: 'init', d: 'copying', f: 'copied', s: 'syncing', r: 'ready' };

export async function tableProgress(from: PgSide, to: PgSide, direction: Direction): Promise<TableProgress[]> {
  const rows = await to.q<{ t: string; state: string; bytes: string }>(
    `select format('%s.%s', n.nspname, c.relname) as t, r.srsubstate as state, pg_total_relation_size(c.oid)::text as bytes
       from pg_subscription s join pg_subscription_rel r on r.srsubid = s.oid
       join pg_class c on c.oid = r.srrelid join pg_namespace n on n.oid = c.relnamespace
      where s.subname = $1 and n.nspname <> $2 order by 1`,
    [direction.id, HELPER_SCHEMA],
  );
  if (rows.length === 0) return [];
  const sizes = await from.q<{ t: string; bytes: string }>(
    `select t, pg_total_relation_size(t::regclass)::text as bytes from unnest($1::text[]) as t`,
    [rows.map((row) => row.t)],
  );
  const sourceBytes = new Map(sizes.map((row) => [row.t, Number(row.bytes)]));
  return rows.map((row) => ({
    table: row.t,
    state: STATES[row.state] ?? 'unknown',
    sourceBytes: sourceBytes.get(row.t) ?? 0,
    targetBytes: Number(row.bytes),
  }));
}

export async function lagReport(from: PgSide, to: PgSide, direction: Direction, timeoutMs = 5_000): Promise<LagReport> {
  const [beat, bytes, replay, errors] = await Promise.all([
    heartbeat(from, to, direction, timeoutMs),
    from.q<{ b: string | null }>(`select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text as b from pg_replication_slots where slot_name = $1`, [direction.id]),
    from.q<{ s: number | null }>(`select extract(epoch from replay_lag)::float8 as s from pg_stat_replication where application_name = $1`, [direction.id]),
    to.q<{ a: string; s: string }>(`select apply_error_count::text as a, sync_error_count::text as s from pg_stat_subscription_stats where subname = $1`, [direction.id]),
  ]);
  return {
    seconds: beat.seconds,
    bytes: bytes[0]?.b == null ? null : Number(bytes[0].b),
    replayLagSeconds: replay[0]?.s == null ? null : Number(replay[0].s),
    applyErrors: Number(errors[0]?.a ?? 0),
    syncErrors: Number(errors[0]?.s ?? 0),
  };
}

/**
 * Logical replication does not carry sequence values: read them all on the sender in one
 * query and set them on the receiver in one query.
 */
export async function copySequences(from: PgSide | PgConn, to: PgSide | PgConn, schemas?: string[]): Promise<number> {
  const names = await from.q<{ s: string }>(
    `select format('%I.%I', schemaname, sequencename) as s from pg_sequences
      where schemaname not in ('pg_catalog', 'information_schema', $1) and ($2::text[] is null or schemaname = any($2::text[])) order by 1`,
    [HELPER_SCHEMA, schemas && schemas.length > 0 ? schemas : null],
  );
  if (names.length === 0) return 0;
  const values = await from.q<{ s: string; v: string; c: boolean }>(
    names.map((row, i) => `select ${literal(row.s)} as s, last_value::text as v, is_called as c from ${row.s}${i < names.length - 1 ? ' union all' : ''}`).join('\n'),
  );
  await to.q(`select ${values.map((row) => `setval(${literal(row.s)}, ${BigInt(row.v).toString()}, ${row.c})`).join(', ')}`);
  return values.length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
