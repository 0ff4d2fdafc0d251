/**
 * Parity of two PostgreSQL databases computed inside each server: per table, chunks of
 * ~50k rows by primary-key range are summarised on both sides (count + bit_xor of a 64-bit
 * row hash), two chunk queries in flight per side; mismatched chunks are narrowed down to
 * keys by the pure bisection in ../parity/bisect.ts.
 *
 * Why 50k (the field notes suggest ~10k): on 1M rows, three interleaved runs gave
 * 0.82–0.93M rows/s with 10k chunks and 1.07–1.12M with 50k (25k: 0.97–1.02M; 100k:
 * 1.03–1.29M, noisier); the per-query cost (planning, executor start-up, a round trip) is
 * what the larger chunk saves, and bisection needs one more level at most.
 *
 * Consistency: every session of a side shares one exported snapshot. While replication is
 * live, the sender's snapshot is taken first, then a heartbeat is committed on the sender and
 * the receiver's snapshot is taken once that heartbeat is applied — so the receiver holds at
 * least everything the sender's snapshot holds. Rows written in between show up as
 * differences in that round (field notes: ~1 in 1,000 chunks is transiently different under
 * live load). Each suspect key is then confirmed exactly: its rows are read on the sender
 * under FOR SHARE (so no writer can change them), a heartbeat committed after that read is
 * waited for on the receiver, and the receiver's rows are read — equal data must be equal
 * now, even for rows the application updates many times a second (a stock counter, which a
 * snapshot pair never catches at the same version). Writers of those few rows wait for one
 * heartbeat round trip. Keys the sender does not hold cannot be locked, so confirmation
 * repeats a few rounds for rows inserted meanwhile. During cutover the caller passes
 * snapshots taken while writes were frozen: then one round is exact.
 */
import type { ParityOptions, ParityReport, RowDifference, TableParity } from '../provider.js';
import {
  diffRowHashes,
  keyId,
  locateDifferences,
  mismatchedRanges,
  rangesFromBoundaries,
  splitRange,
  type KeyRange,
  type RangeOracle,
  type RangeSummary,
  type RowHash,
} from '../parity/bisect.js';
import { FerryError } from '../../util/errors.js';
import { listTables, type TableInfo } from './catalog.js';
import type { PgConn, PgSide } from './connection.js';
import { heartbeat, type Direction } from './replication.js';
import { ident, qualified } from './sql.js';

export type ParityConsistency =
  | { mode: 'snapshot' }
  | { mode: 'live'; direction: Direction }
  | { mode: 'frozen'; snapshots: { source: string; target: string } };

interface Group {
  conns: PgConn[];
  snapshot: string;
}

export const DEFAULT_CHUNK_ROWS = 50_000;

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

export async function runParity(
  source: PgSide,
  target: PgSide,
  consistency: ParityConsistency,
  options: ParityOptions & { schemas?: string[] } = {},
): Promise<ParityReport> {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const leafRows = options.leafRows ?? 1_000;
  const fanout = options.fanout ?? 16;
  const hashMode = options.hash ?? 'record';
  const started = performance.now();
  let queries = 0;

  const all = await listTables(source, options.schemas);
  const tables = options.tables && options.tables.length > 0 ? all.filter((t) => options.tables!.includes(t.name)) : all;
  const pair = await openPair(source, target, consistency, concurrency);
  try {
    const reports: TableParity[] = [];
    const suspects: Array<{ table: TableInfo; key: string[] }> = [];
    const sqls = new Map(tables.map((table) => [table.name, tableSql(table, hashMode)]));

    // Chunk plans, then one shared queue of (table, range) so both workers stay busy across tables.
    const work: Array<{ table: TableInfo; range: KeyRange; index: number }> = [];
    const perTable = new Map<string, { ranges: KeyRange[]; source: RangeSummary[]; target: RangeSummary[] }>();
    for (const table of tables) {
      const sql = sqls.get(table.name)!;
      const plan = await planChunks(table, sql, pair.source.conns[0]!, pair.target.conns[0]!, chunkRows);
      queries += plan.queries;
      perTable.set(table.name, { ranges: plan.ranges, source: [], target: [] });
      plan.ranges.forEach((range, index) => work.push({ table, range, index }));
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        while (next < work.length) {
          const item = work[next++]!;
          const sql = sqls.get(item.table.name)!;
          const [s, t] = await Promise.all([
            summarizeRange(pair.source.conns[w]!, sql, item.range),
            summarizeRange(pair.target.conns[w]!, sql, item.range),
          ]);
          queries += 2;
          const entry = perTable.get(item.table.name)!;
          entry.source[item.index] = s;
          entry.target[item.index] = t;
        }
      }),
    );
    const scanSeconds = (performance.now() - started) / 1000;

    let locateQueries = 0;
    for (const table of tables) {
      const entry = perTable.get(table.name)!;
      const bad = mismatchedRanges(entry.ranges, entry.source, entry.target);
      const count = (list: RangeSummary[]) => list.reduce((sum, s) => sum + s.count, 0);
      reports.push({
        table: table.name,
        sourceRows: count(entry.source),
        targetRows: count(entry.target),
        chunks: entry.ranges.length,
        mismatchedChunks: bad.length,
      });
      if (bad.length === 0) continue;
      const oracle = pgOracle(pair.source.conns[0]!, pair.target.conns[0]!, sqls.get(table.name)!);
      const located = await locateDifferences(oracle, bad, { leafRows, fanout });
      locateQueries += located.queries;
      for (const diff of located.differences) suspects.push({ table, key: diff.key });
    }
    queries += locateQueries;
    await pair.close();

    // While replication is live, a difference counts only if it is still there at fresh consistent points.
    let differences: RowDifference[] = [];
    let candidates = suspects;
    let kinds = new Map<string, RowDifference['kind']>();
    const rounds = consistency.mode === 'live' ? Math.max(1, options.confirmRounds ?? 3) : 0;
    if (consistency.mode !== 'live') {
      differences = await classify(candidates, source, target, consistency, sqls, () => queries++);
    } else {
      for (let round = 0; round < rounds && candidates.length > 0; round++) {
        differences = await confirmLive(candidates, source, target, consistency.direction, sqls, () => queries++);
        kinds = new Map(differences.map((d) => [`${d.table}${keyId(d.key)}`, d.kind]));
        candidates = candidates.filter((c) => kinds.has(`${c.table.name}${keyId(c.key)}`));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const rows = reports.reduce((sum, r) => sum + r.sourceRows, 0);
    const countsEqual = reports.every((r) => r.sourceRows === r.targetRows);
    return {
      ok: differences.length === 0 && (consistency.mode === 'live' || countsEqual),
      tables: reports,
      differences,
      transientDifferences: suspects.length - differences.length,
      rows,
      seconds,
      rowsPerSecond: rows / Math.max(scanSeconds, 1e-6),
      queries,
      locateQueries,
      consistency: consistency.mode === 'live' ? 'replayed-past-source-lsn' : consistency.mode,
      sourceLsn: pair.sourceLsn,
      hash: hashMode,
    };
  } finally {
    await pair.close();
  }
}

/** Re-reads suspect keys on both sides (in one fresh consistent pair, or the frozen one) and keeps those that differ. */
async function classify(
  candidates: Array<{ table: TableInfo; key: string[] }>,
  source: PgSide,
  target: PgSide,
  consistency: ParityConsistency,
  sqls: Map<string, TableSql>,
  count: () => void,
): Promise<RowDifference[]> {
  if (candidates.length === 0) return [];
  const pair = await openPair(source, target, consistency, 1);
  try {
    const out: RowDifference[] = [];
    for (const [table, keys] of keysByTable(candidates)) {
      const sql = sqls.get(table)!;
      const [s, t] = await Promise.all([rowsByKeys(pair.source.conns[0]!, sql, keys), rowsByKeys(pair.target.conns[0]!, sql, keys)]);
      count();
      count();
      out.push(...rowDifferences(table, s, t));
    }
    return out;
  } finally {
    await pair.close();
  }
}

/**
 * Exact re-read of suspect keys while replication is live: the sender's rows are locked
 * (FOR SHARE) and read, a heartbeat committed afterwards is awaited on the receiver, then the
 * receiver's rows are read and the lock released. Falls back to a consistent snapshot pair
 * when the rows cannot be locked (no UPDATE privilege, or a writer holds them past the lock
 * timeout).
 */
async function confirmLive(
  candidates: Array<{ table: TableInfo; key: string[] }>,
  source: PgSide,
  target: PgSide,
  direction: Direction,
  sqls: Map<string, TableSql>,
  count: () => void,
): Promise<RowDifference[]> {
  if (candidates.length === 0) return [];
  const sender = direction.from === 'source' ? source : target;
  const receiver = direction.from === 'source' ? target : source;
  const byTable = keysByTable(candidates);
  const lock = await sender.open();
  const senderRows = new Map<string, RowHash[]>();
  const receiverRows = new Map<string, RowHash[]>();
  try {
    await lock.q('begin isolation level read committed');
    await lock.q(`set local lock_timeout = '2s'`);
    for (const [table, keys] of byTable) {
      senderRows.set(table, await rowsByKeys(lock, sqls.get(table)!, keys, 'for share of t'));
      count();
    }
    const beat = await heartbeat(sender, receiver, direction, 30_000);
    if (!beat.arrived) {
      throw new FerryError('parity', `the ${receiver.side} did not replay a heartbeat within 30 s`, { fix: 'check replication lag with `ferry data status`' });
    }
    for (const [table, keys] of byTable) {
      receiverRows.set(table, await rowsByKeys(receiver, sqls.get(table)!, keys));
      count();
    }
    await lock.q('commit');
  } catch (error) {
    await lock.q('rollback').catch(() => undefined);
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code === '42501' || code === '55P03') return classify(candidates, source, target, { mode: 'live', direction }, sqls, count);
    throw error;
  } finally {
    await sender.release(lock);
  }
  const [sourceRows, targetRows] = direction.from === 'source' ? [senderRows, receiverRows] : [receiverRows, senderRows];
  return [...byTable.keys()].flatMap((table) => rowDifferences(table, sourceRows.get(table)!, targetRows.get(table)!));
}

function keysByTable(candidates: Array<{ table: TableInfo; key: string[] }>): Map<string, string[][]> {
  const byTable = new Map<string, string[][]>();
  for (const { table, key } of candidates) {
    const keys = byTable.get(table.name);
    if (keys) keys.push(key);
    else byTable.set(table.name, [key]);
  }
  return byTable;
}

function rowDifferences(table: string, source: RowHash[], target: RowHash[]): RowDifference[] {
  return diffRowHashes(source, target).map((diff) => ({ table, key: diff.key, kind: diff.kind }));
}

interface Pair {
  source: Group;
  target: Group;
  sourceLsn: string | null;
  close(): Promise<void>;
}

async function openPair(source: PgSide, target: PgSide, consistency: ParityConsistency, n: number): Promise<Pair> {
  const groups: Array<{ side: PgSide; group: Group }> = [];
  const close = async () => {
    const open = groups.splice(0);
    await Promise.all(open.map(({ side, group }) => Promise.all(group.conns.map((conn) => side.release(conn)))));
  };
  try {
    if (consistency.mode === 'frozen') {
      const [s, t] = await Promise.all([
        openGroup(source, n, consistency.snapshots.source),
        openGroup(target, n, consistency.snapshots.target),
      ]);
      groups.push({ side: source, group: s }, { side: target, group: t });
      return { source: s, target: t, sourceLsn: null, close };
    }
    if (consistency.mode === 'snapshot') {
      const [s, t] = await Promise.all([openGroup(source, n), openGroup(target, n)]);
      groups.push({ side: source, group: s }, { side: target, group: t });
      return { source: s, target: t, sourceLsn: null, close };
    }
    const { direction } = consistency;
    const sender = direction.from === 'source' ? source : target;
    const receiver = direction.from === 'source' ? target : source;
    const first = await openGroup(sender, n);
    groups.push({ side: sender, group: first });
    const beat = await heartbeat(sender, receiver, direction, 30_000);
    const second = await openGroup(receiver, n);
    groups.push({ side: receiver, group: second });
    const [s, t] = direction.from === 'source' ? [first, second] : [second, first];
    return { source: s, target: t, sourceLsn: beat.lsn, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function openGroup(side: PgSide, n: number, importSnapshot?: string): Promise<Group> {
  const conns = await Promise.all(Array.from({ length: n }, () => side.open()));
  const first = conns[0]!;
  await first.q('begin isolation level repeatable read read only');
  let snapshot = importSnapshot;
  if (snapshot) await first.q(`set transaction snapshot '${snapshot.replace(/'/g, '')}'`);
  else snapshot = (await first.one<{ s: string }>('select pg_export_snapshot() as s')).s;
  await Promise.all(
    conns.slice(1).map(async (conn) => {
      await conn.q('begin isolation level repeatable read read only');
      await conn.q(`set transaction snapshot '${snapshot!.replace(/'/g, '')}'`);
    }),
  );
  return { conns, snapshot };
}

interface TableSql {
  table: TableInfo;
  from: string;
  /** SELECT list of the key columns as text, aliased k0, k1, … */
  keyText: string;
  keyTuple: string;
  keyTypes: string[];
  hash: string;
}

/**
 * Types whose equality is identity of their text form, so a typed hash (hash_record_extended,
 * ~3× cheaper than hashing the row's text here) proves the same thing as the text hash. Other
 * types (float -0/0, unconstrained numeric 1.0/1.00, citext, json, types without a hash
 * function) make the table fall back to the text hash.
 */
const TYPED_HASH_SAFE =
  /^(smallint|integer|bigint|boolean|text|oid|uuid|bytea|jsonb|date|character varying(\(\d+\))?|character(\(\d+\))?|numeric\(\d+,\d+\)|timestamp(\(\d\))? with(out)? time zone)$/;

export function rowHashKind(table: TableInfo, requested: 'text' | 'record'): 'text' | 'record' {
  return requested === 'record' && table.columns.every((c) => TYPED_HASH_SAFE.test(c.type)) ? 'record' : 'text';
}

function tableSql(table: TableInfo, requested: 'text' | 'record'): TableSql {
  const hashMode = rowHashKind(table, requested);
  const cols = table.columns.map((c) => `t.${ident(c.name)}`).join(', ');
  const row = table.columns.length === 1 ? `row(${cols})` : `(${cols})`;
  return {
    table,
    from: `${qualified(table.name)} t`,
    keyText: table.key.map((k, i) => `t.${ident(k.name)}::text as k${i}`).join(', '),
    keyTuple: table.key.length === 1 ? `t.${ident(table.key[0]!.name)}` : `(${table.key.map((k) => `t.${ident(k.name)}`).join(', ')})`,
    keyTypes: table.key.map((k) => k.type),
    hash: hashMode === 'record' ? `hash_record_extended(${row}, 0)` : `hashtextextended(${row}::text, 0)`,
  };
}

/** `$n::type` placeholders for one key, appending its values to params. */
function keyParam(sql: TableSql, key: string[], params: unknown[]): string {
  const parts = key.map((value, i) => {
    params.push(value);
    return `$${params.length}::${sql.keyTypes[i]}`;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

function rangeWhere(sql: TableSql, range: KeyRange, params: unknown[]): string {
  const conds: string[] = [];
  if (range.lower) conds.push(`${sql.keyTuple} >= ${keyParam(sql, range.lower, params)}`);
  if (range.upper) conds.push(`${sql.keyTuple} < ${keyParam(sql, range.upper, params)}`);
  return conds.length > 0 ? conds.join(' and ') : 'true';
}

async function summarizeRange(conn: PgConn, sql: TableSql, range: KeyRange): Promise<RangeSummary> {
  const params: unknown[] = [];
  const where = rangeWhere(sql, range, params);
  const row = await conn.one<{ n: string; h: string }>(`select count(*)::text as n, coalesce(bit_xor(${sql.hash}), 0)::text as h from ${sql.from} where ${where}`, params);
  return { count: Number(row.n), hash: row.h };
}

async function planChunks(
  table: TableInfo,
  sql: TableSql,
  source: PgConn,
  target: PgConn,
  chunkRows: number,
): Promise<{ ranges: KeyRange[]; queries: number }> {
  if (table.key.length === 0) return { ranges: [{ lower: null, upper: null }], queries: 0 };
  if (table.key.length === 1 && INTEGER_TYPES.has(table.key[0]!.type)) {
    // Dense integer keys: split the value span arithmetically, no scan needed.
    const q = `select min(${sql.keyTuple})::text as lo, max(${sql.keyTuple})::text as hi, (select reltuples from pg_class where oid = '${qualified(table.name).replace(/'/g, "''")}'::regclass)::bigint::text as est from ${sql.from}`;
    const [s, t] = await Promise.all([source.one<{ lo: string | null; hi: string | null; est: string }>(q), target.one<{ lo: string | null; hi: string | null }>(q)]);
    const los = [s.lo, t.lo].filter((v): v is string => v !== null).map(BigInt);
    const his = [s.hi, t.hi].filter((v): v is string => v !== null).map(BigInt);
    if (los.length === 0) return { ranges: [{ lower: null, upper: null }], queries: 2 };
    const lo = los.reduce((a, b) => (a < b ? a : b));
    const hi = his.reduce((a, b) => (a > b ? a : b));
    const span = hi - lo + 1n;
    const est = BigInt(Math.max(Number(s.est), 0));
    const rows = est > 0n && est < span ? est : span;
    const chunks = rows / BigInt(chunkRows) + 1n;
    const step = span / chunks + (span % chunks === 0n ? 0n : 1n);
    const bounds: string[][] = [];
    for (let b = lo + step; b <= hi; b += step) bounds.push([b.toString()]);
    return { ranges: rangesFromBoundaries(bounds), queries: 2 };
  }
  const rows = await source.q<Record<string, string>>(
    `select ${sql.table.key.map((_, i) => `k${i}`).join(', ')} from (select ${sql.keyText}, row_number() over (order by ${sql.keyTuple}) as rn from ${sql.from}) s where rn % $1 = 1 and rn > 1 order by rn`,
    [chunkRows],
  );
  return { ranges: rangesFromBoundaries(rows.map((row) => sql.table.key.map((_, i) => row[`k${i}`]!))), queries: 1 };
}

function pgOracle(source: PgConn, target: PgConn, sql: TableSql): RangeOracle {
  const conn = (side: 'source' | 'target') => (side === 'source' ? source : target);
  return {
    async summarize(side, range, bounds) {
      const params: unknown[] = [];
      const where = rangeWhere(sql, range, params);
      const parts = splitRange(range, bounds);
      const cases = parts
        .slice(0, -1)
        .map((part, i) => `when ${sql.keyTuple} < ${keyParam(sql, part.upper!, params)} then ${i}`)
        .join(' ');
      const rows = await conn(side).q<{ b: number; n: string; h: string }>(
        `select b, count(*)::text as n, coalesce(bit_xor(h), 0)::text as h
           from (select case ${cases} else ${parts.length - 1} end as b, ${sql.hash} as h from ${sql.from} where ${where}) s group by b`,
        params,
      );
      const out: RangeSummary[] = parts.map(() => ({ count: 0, hash: '0' }));
      for (const row of rows) out[row.b] = { count: Number(row.n), hash: row.h };
      return out;
    },
    async boundaries(side, range, parts, rows) {
      const params: unknown[] = [];
      const where = rangeWhere(sql, range, params);
      params.push(Math.max(1, Math.ceil(rows / parts)));
      const result = await conn(side).q<Record<string, string>>(
        `select ${sql.table.key.map((_, i) => `k${i}`).join(', ')} from (select ${sql.keyText}, row_number() over (order by ${sql.keyTuple}) as rn from ${sql.from} where ${where}) s
          where rn % $${params.length} = 1 and rn > 1 order by rn`,
        params,
      );
      return result.map((row) => sql.table.key.map((_, i) => row[`k${i}`]!));
    },
    async rows(side, range) {
      const params: unknown[] = [];
      const where = rangeWhere(sql, range, params);
      const result = await conn(side).q<Record<string, string>>(`select ${sql.keyText}, ${sql.hash}::text as h from ${sql.from} where ${where}`, params);
      return result.map((row) => ({ key: sql.table.key.map((_, i) => row[`k${i}`]!), hash: row.h! }));
    },
  };
}

async function rowsByKeys(conn: PgConn | PgSide, sql: TableSql, keys: string[][], locking = ''): Promise<RowHash[]> {
  const params = sql.keyTypes.map((_, i) => keys.map((key) => key[i]!));
  const unnest = sql.keyTypes.map((type, i) => `$${i + 1}::text[]::${type}[]`).join(', ');
  const cols = sql.table.key.map((_, i) => `u.c${i}`).join(', ');
  const result = await conn.q<Record<string, string>>(
    `select ${sql.keyText}, ${sql.hash}::text as h from ${sql.from}
      where ${sql.keyTuple} in (select ${cols} from unnest(${unnest}) as u(${sql.keyTypes.map((_, i) => `c${i}`).join(', ')})) ${locking}`,
    params,
  );
  return result.map((row) => ({ key: sql.table.key.map((_, i) => row[`k${i}`]!), hash: row.h! }));
}
