/**
 * Parity of two PostgreSQL databases computed inside each server, close to the cost of one
 * hashing pass over every table on both sides.
 *
 * Scan: a table whose key order follows the heap is cut into chunks of ~`chunkRows` rows by
 * primary-key range — for an integer (or integer-led) key arithmetically from min/max (two
 * index probes), otherwise at quantiles of a block sample (TABLESAMPLE SYSTEM, no full sort of
 * the keys). Every chunk is summarised as count + bit_xor of a 64-bit row hash; a segment of
 * consecutive chunks is one statement (a LATERAL over the chunk bounds, each chunk an index
 * range scan). A table whose key order does not follow the heap (uuid, hashed text, tenant-led
 * keys: pg_stats correlation under 0.9) is read in physical order instead, by page spans (TID
 * range scans, PostgreSQL 14+), summarised per bucket of the key hash — a row is in the same
 * bucket on both sides wherever either heap holds it, so spans add up per bucket. Segments of
 * all tables go through a queue per side worked by `concurrency` sessions, largest (in bytes) first.
 *
 * Why not one sequential scan grouped by chunk for every table: measured here on the bench
 * fixture, a GROUP BY (HashAggregate) over the row costs 1.6–3× the plain hashing pass, while
 * range chunks cost 1.0–1.2× on keys that follow the heap; for scattered keys the grouped
 * pass, with both hashes computed below an `offset 0`, costs ~1.5×, against ~2× for the
 * bitmap-scanned key ranges used before.
 *
 * Row hash: `hash_record_extended(row(cols), 0)` over typed columns where a type's equality is
 * identity of its text form, an unconstrained numeric with its scale (1.0 and 1.00 are equal
 * numbers, different text), and `col::text` for the others (floats -0 vs 0, jsonb numbers,
 * json, intervals, arrays…), so one such column does not make the whole row go through text.
 * A TOASTed value is detoasted once per pass that reads its row: the scan reads every row once;
 * the locate hashes whole rows only for those whose key hash falls in a differing (sub-)bucket.
 *
 * Locate (../parity/chunks.ts): a scattered table, as soon as both sides have scanned it, gets
 * one statement per side reading the rows of its differing buckets (filtered on the key hash,
 * while the rest of the scan goes on); a key-range table, per side one statement summarising
 * its mismatched chunks by sub-bucket of the key hash and one reading the rows of the
 * differing sub-buckets — at most 4 queries per table whatever the number of differences —
 * then the suspect keys are confirmed (below). Every query after the scan is counted in `locateQueries`.
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
 * snapshots taken while writes were frozen: then the located rows are exact as they are.
 */
import type { ParityOptions, ParityReport, RowDifference, TableParity } from '../provider.js';
import { diffRowHashes, keyId, mismatchedRanges, rangesFromBoundaries, type KeyRange, type RangeSummary, type RowHash } from '../parity/bisect.js';
import { addSummary, bucketsFor, differingBuckets, differingSubBuckets, integerBoundaries, integerRanges, segments, subBucketsFor, type Segment, type SubSummary } from '../parity/chunks.js';
import { FerryError } from '../../util/errors.js';
import { listTables, type TableInfo } from './catalog.js';
import type { PgConn, PgSide } from './connection.js';
import { heartbeat, type Direction } from './replication.js';
import { ident, qualified, splitQualified } from './sql.js';

export type ParityConsistency =
  | { mode: 'snapshot' }
  | { mode: 'live'; direction: Direction }
  | { mode: 'frozen'; snapshots: { source: string; target: string } };

interface Group {
  conns: PgConn[];
  snapshot: string;
}

/** Rows per chunk: a mismatched chunk is re-read by the locate, so small chunks keep that cheap; a chunk costs one index descent. */
export const DEFAULT_CHUNK_ROWS = 2_000;
/**
 * Connections per side the scan uses. Two keep parity from taking more than two cores of a
 * production server, and measured on the bench's 2 shared cores 2 were faster than 4 (1 M rows:
 * ~1.6× the floor against ~1.7×; more sessions than cores only add switching).
 */
export const DEFAULT_CONCURRENCY = 2;
/** A mismatched chunk with at most this many rows on either side is read row by row without the sub-bucket step. */
const DEFAULT_LEAF_ROWS = 128;
/** Fewest sub-buckets a mismatched chunk is split into (the key hash's low bits); more for large chunks. */
const DEFAULT_SUB_BUCKETS = 64;
/** Rows a sub-bucket should hold: what reading one differing row costs in the last locate step. */
const ROWS_PER_SUB_BUCKET = 32;
/** Sampled keys per chunk (more: chunks closer to equal size). */
const SAMPLE_PER_CHUNK = 8;

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

interface TablePlan {
  table: TableInfo;
  sql: TableSql;
  ranges: KeyRange[];
  rows: number;
  /** Set for a scattered table: read by page spans, summaries indexed by key-hash bucket. */
  scattered?: ScatteredPlan;
  source: RangeSummary[];
  target: RangeSummary[];
}

export async function runParity(
  source: PgSide,
  target: PgSide,
  consistency: ParityConsistency,
  options: ParityOptions & { schemas?: string[] } = {},
): Promise<ParityReport> {
  const chunkRows = Math.max(1, options.chunkRows ?? DEFAULT_CHUNK_ROWS);
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const leafRows = options.leafRows ?? DEFAULT_LEAF_ROWS;
  const minSubBuckets = Math.max(2, options.fanout ?? DEFAULT_SUB_BUCKETS);
  const hashMode = options.hash ?? 'record';
  const started = performance.now();
  const bytes = new ByteCounter();
  let queries = 0;

  const mainConns = await Promise.all([source.conn(), target.conn()]);
  mainConns.forEach((conn) => bytes.watch(conn));
  // The scan sessions open (and take their snapshots) while the catalog is read.
  const [listed, opened] = await Promise.allSettled([listTables(source, options.schemas), openPair(source, target, consistency, concurrency)]);
  if (listed.status === 'rejected' || opened.status === 'rejected') {
    if (opened.status === 'fulfilled') await opened.value.close();
    throw listed.status === 'rejected' ? listed.reason : (opened as PromiseRejectedResult).reason;
  }
  const all = listed.value;
  const pair = opened.value;
  let closing: Promise<void> | undefined;
  queries++;
  const tables = options.tables && options.tables.length > 0 ? all.filter((t) => options.tables!.includes(t.name)) : all;
  for (const conn of [...pair.source.conns, ...pair.target.conns]) bytes.watch(conn);
  try {
    // Chunk plans: one catalog query, one min/max query per side, one small sample per table without an integer key.
    const sqls = tables.map((table) => tableSql(table, hashMode));
    const planned = await planChunks(sqls, pair.source.conns, pair.target.conns, chunkRows);
    queries += planned.queries;
    const plans: TablePlan[] = sqls.map((sql, i) => ({
      table: sql.table,
      sql,
      ranges: planned.scattered[i] ? [] : planned.ranges[i]!,
      rows: planned.rows[i]!,
      scattered: planned.scattered[i] ?? undefined,
      source: [],
      target: [],
    }));

    // The scan: segments of all tables, largest first; each side works through them on its own connections.
    // A scattered table's units are runs of heap pages, a segment one page span of it.
    const units = (p: TablePlan) => (p.scattered ? Math.max(1, Math.ceil(p.scattered.pages / PAGES_PER_UNIT)) : p.ranges.length);
    // Segments are sized and ordered by bytes (TOAST included), not rows: hashing costs by the byte, and a table of
    // few large documents scheduled last by its row count kept the others waiting.
    const work = segments(plans.map((p) => ({ chunks: units(p), rows: p.table.bytes > 0 ? p.table.bytes : p.rows })), concurrency);
    const spanOf = (seg: Segment): PageSpan => ({ from: seg.first * PAGES_PER_UNIT, to: seg.end >= units(plans[seg.table]!) ? null : seg.end * PAGES_PER_UNIT });
    // Each side's sessions take jobs from that side's queue: the scan's segments, then (as soon as a
    // scattered table is scanned on both sides, while the rest of the scan goes on) the read of the
    // rows in its differing buckets.
    let locateQueries = 0;
    let scanSeconds = 0;
    const sides = ['source', 'target'] as const;
    const leafRowsByTable = new Map<TablePlan, { source: RowHash[]; target: RowHash[] }>();
    const rowsOf = (plan: TablePlan) => {
      let rows = leafRowsByTable.get(plan);
      if (!rows) leafRowsByTable.set(plan, (rows = { source: [], target: [] }));
      return rows;
    };
    const picked = new Map<TablePlan, number[]>();
    const queues = { source: new JobQueue(), target: new JobQueue() };
    const unscanned = new Map<TablePlan, number>();
    for (const seg of work) unscanned.set(plans[seg.table]!, (unscanned.get(plans[seg.table]!) ?? 0) + sides.length);
    let segmentsLeft = work.length * sides.length;
    const scanned = (plan: TablePlan) => {
      const left = unscanned.get(plan)! - 1;
      unscanned.set(plan, left);
      if (left === 0 && plan.scattered) {
        const buckets = plan.scattered.buckets;
        const pick = differingBuckets(plan.source, plan.target, buckets);
        picked.set(plan, pick);
        // One statement per side for the whole table (a filter on the key hash: no row hash but for the rows read), so a
        // differing row costs a bounded number of queries however many spans the scan used.
        if (pick.length > 0) {
          for (const side of sides) {
            queues[side].push(async (conn) => {
              const rows = await bucketRows(conn, plan.sql, { from: 0, to: null }, buckets, pick);
              locateQueries++;
              const into = rowsOf(plan)[side];
              for (const row of rows) into.push(row);
            });
          }
        }
      }
      if (--segmentsLeft === 0) {
        scanSeconds = (performance.now() - started) / 1000;
        for (const side of sides) queues[side].close();
      }
    };
    for (const side of sides) {
      for (const seg of work) {
        queues[side].push(async (conn) => {
          const plan = plans[seg.table]!;
          if (plan.scattered) {
            const rows = await summarizeBuckets(conn, plan.sql, spanOf(seg), plan.scattered.buckets);
            queries++;
            for (const row of rows) plan[side][row.b] = addSummary(plan[side][row.b], { count: Number(row.n), hash: row.h });
          } else {
            const items = plan.ranges.slice(seg.first, seg.end).map((range, k) => ({ id: seg.first + k, range }));
            const summaries = await summarizeChunks(conn, plan.sql, items);
            queries++;
            for (const [id, summary] of summaries) plan[side][id] = summary;
          }
          scanned(plan);
        });
      }
    }
    if (work.length === 0) {
      scanSeconds = (performance.now() - started) / 1000;
      for (const side of sides) queues[side].close();
    }
    await Promise.all(
      sides.map((side) =>
        Promise.all(
          pair[side].conns.map(async (conn) => {
            try {
              for (let job = await queues[side].next(); job; job = await queues[side].next()) await job(conn);
            } catch (error) {
              for (const s of sides) queues[s].close();
              throw error;
            }
          }),
        ),
      ),
    );

    // Locate: per table with mismatched chunks, one sub-bucket statement and one row statement per side.
    const suspects: Array<{ table: TableInfo; key: string[]; kind: RowDifference['kind'] }> = [];
    const reports: TableParity[] = [];
    const mismatched: MismatchedTable[] = [];
    for (const plan of plans) {
      const count = (list: RangeSummary[]) => list.reduce((sum, s) => sum + (s?.count ?? 0), 0);
      if (plan.scattered) {
        const pick = picked.get(plan) ?? [];
        reports.push({ table: plan.table.name, sourceRows: count(plan.source), targetRows: count(plan.target), chunks: plan.scattered.buckets, mismatchedChunks: pick.length });
        continue;
      }
      const bad = mismatchedRanges(plan.ranges, plan.source, plan.target);
      reports.push({ table: plan.table.name, sourceRows: count(plan.source), targetRows: count(plan.target), chunks: plan.ranges.length, mismatchedChunks: bad.length });
      if (bad.length === 0) continue;
      const ids = new Map(plan.ranges.map((range, id) => [range, id]));
      mismatched.push({ plan, chunks: bad.map((b) => ({ id: ids.get(b.range)!, range: b.range, rows: Math.max(b.source.count, b.target.count) })) });
    }
    // Many mismatched chunks (many differences) are split into jobs like the scan, so no one
    // connection re-reads a whole large table while the others wait.
    const jobs = locateJobs(mismatched, concurrency);
    await pool(jobs.length, concurrency, async (i, w) => {
      const conns = { source: pair.source.conns[w]!, target: pair.target.conns[w]! };
      const { plan, chunks } = jobs[i]!;
      // null: read every row of the chunk.
      const picks = new Map<number, number[] | null>();
      // Measured: reading a few 2,000-row chunks whole instead (one round trip less) was slower — the rows' parsing and diff cost more than the round trip.
      const leafLimit = leafRows;
      const large = chunks.filter((c) => c.rows > leafLimit).map((c) => ({ ...c, subs: subBucketsFor(c.rows, ROWS_PER_SUB_BUCKET, minSubBuckets) }));
      for (const c of chunks) if (c.rows <= leafLimit) picks.set(c.id, null);
      if (large.length > 0) {
        const [s, t] = await Promise.all([subSummaries(conns.source, plan.sql, large), subSummaries(conns.target, plan.sql, large)]);
        locateQueries += 2;
        for (const [id, subs] of differingSubBuckets(s, t)) picks.set(id, subs);
      }
      const subsOf = new Map(large.map((c) => [c.id, c.subs]));
      const leaves = chunks.filter((c) => picks.has(c.id)).map((c) => ({ id: c.id, range: c.range, subs: subsOf.get(c.id) ?? 1, pick: picks.get(c.id)! }));
      if (leaves.length === 0) return;
      const [s, t] = await Promise.all([leafRowsOf(conns.source, plan.sql, leaves), leafRowsOf(conns.target, plan.sql, leaves)]);
      locateQueries += 2;
      const rows = rowsOf(plan);
      // A loop, not push(...rows): a spread of 100k+ rows overflows the stack.
      for (const row of s) rows.source.push(row);
      for (const row of t) rows.target.push(row);
    });
    for (const [plan, rows] of leafRowsByTable) {
      for (const diff of diffRowHashes(rows.source, rows.target)) suspects.push({ table: plan.table, key: diff.key, kind: diff.kind });
    }
    // The scan sessions end in the background while the suspects are confirmed on the main sessions.
    closing = pair.close().catch(() => undefined);

    // Frozen snapshots: the located rows are exact. Otherwise a difference counts only if it is
    // still there at a fresh consistent point (snapshot) or after an exact live re-read.
    let differences: RowDifference[] = [];
    let candidates = suspects;
    const countQuery = () => {
      locateQueries++;
    };
    if (consistency.mode === 'frozen') {
      differences = suspects.map((s) => ({ table: s.table.name, key: s.key, kind: s.kind }));
    } else if (consistency.mode === 'snapshot') {
      differences = await classify(candidates, source, target, consistency, plansByName(plans), countQuery);
    } else {
      const rounds = Math.max(1, options.confirmRounds ?? 3);
      for (let round = 0; round < rounds && candidates.length > 0; round++) {
        differences = await confirmLive(candidates, source, target, consistency.direction, plansByName(plans), countQuery);
        const kinds = new Set(differences.map((d) => `${d.table}${keyId(d.key)}`));
        candidates = candidates.filter((c) => kinds.has(`${c.table.name}${keyId(c.key)}`));
      }
    }
    queries += locateQueries;
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
      scanSeconds,
      rowsPerSecond: rows / Math.max(scanSeconds, 1e-6),
      queries,
      locateQueries,
      locateQueriesPerDifference: differences.length > 0 ? locateQueries / differences.length : null,
      connectionsPerSide: concurrency,
      bytesReceived: bytes.total(),
      consistency: consistency.mode === 'live' ? 'replayed-past-source-lsn' : consistency.mode,
      sourceLsn: pair.sourceLsn,
      hash: hashMode,
    };
  } finally {
    await (closing ?? pair.close());
  }
}

type MismatchedTable = { plan: TablePlan; chunks: Array<{ id: number; range: KeyRange; rows: number }> };

/** Mismatched chunks as locate jobs: one per table unless a table holds more than its share of the rows to re-read. */
function locateJobs(mismatched: MismatchedTable[], workers: number): MismatchedTable[] {
  const total = mismatched.reduce((sum, m) => sum + m.chunks.reduce((n, c) => n + c.rows, 0), 0);
  const target = Math.max(1, total / (workers * 2));
  const jobs: Array<MismatchedTable & { rows: number }> = [];
  for (const { plan, chunks } of mismatched) {
    let current: MismatchedTable & { rows: number } = { plan, chunks: [], rows: 0 };
    for (const chunk of chunks) {
      if (current.chunks.length > 0 && current.rows + chunk.rows > target) {
        jobs.push(current);
        current = { plan, chunks: [], rows: 0 };
      }
      current.chunks.push(chunk);
      current.rows += chunk.rows;
    }
    jobs.push(current);
  }
  return jobs.sort((a, b) => b.rows - a.rows);
}

function plansByName(plans: TablePlan[]): Map<string, TableSql> {
  return new Map(plans.map((p) => [p.table.name, p.sql]));
}

/** A side's work: jobs taken by its sessions in order; more can be added until it is closed. */
class JobQueue {
  private readonly jobs: Array<(conn: PgConn) => Promise<void>> = [];
  private readonly waiting: Array<(job: ((conn: PgConn) => Promise<void>) | null) => void> = [];
  private open = true;
  push(job: (conn: PgConn) => Promise<void>): void {
    const taker = this.waiting.shift();
    if (taker) taker(job);
    else this.jobs.push(job);
  }
  next(): Promise<((conn: PgConn) => Promise<void>) | null> {
    const job = this.jobs.shift();
    if (job) return Promise.resolve(job);
    if (!this.open) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  /** No more jobs will come: sessions finish what is queued, then stop. */
  close(): void {
    this.open = false;
    for (const taker of this.waiting.splice(0)) taker(null);
  }
}

/** Runs `count` jobs on `workers` lanes; a job gets the lane (connection) index it runs on. */
async function pool(count: number, workers: number, job: (index: number, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async (_, w) => {
      while (next < count) await job(next++, w);
    }),
  );
}

/** Bytes the servers sent on the connections parity used (the socket's counter, read at the end). */
class ByteCounter {
  private readonly sockets = new Map<object, number>();
  watch(conn: PgConn): void {
    const socket = socketOf(conn);
    if (socket && !this.sockets.has(socket)) this.sockets.set(socket, socket.bytesRead);
  }
  total(): number {
    let sum = 0;
    for (const [socket, start] of this.sockets) sum += (socket as { bytesRead: number }).bytesRead - start;
    return sum;
  }
}

function socketOf(conn: PgConn): { bytesRead: number } | undefined {
  // node-postgres keeps its socket on the client's connection; not in its typings.
  const stream = (conn.db as unknown as { connection?: { stream?: { bytesRead?: number } } }).connection?.stream;
  return stream && typeof stream.bytesRead === 'number' ? (stream as { bytesRead: number }) : undefined;
}

/**
 * Re-reads suspect keys on both sides at a fresh consistent point and keeps those that differ:
 * one statement per side for all tables. Without replication the two main sessions each take
 * a snapshot (as the scan did); while replication is live, a fresh pair ordered by a heartbeat.
 */
async function classify(
  candidates: Array<{ table: TableInfo; key: string[] }>,
  source: PgSide,
  target: PgSide,
  consistency: ParityConsistency,
  sqls: Map<string, TableSql>,
  count: () => void,
): Promise<RowDifference[]> {
  if (candidates.length === 0) return [];
  const byTable = [...keysByTable(candidates)].map(([table, keys]) => ({ table, sql: sqls.get(table)!, keys }));
  const read = async (conns: [PgConn, PgConn]) => {
    const [s, t] = await Promise.all(conns.map((conn) => rowsByKeysOfTables(conn, byTable)));
    count();
    count();
    return byTable.flatMap(({ table }, i) => rowDifferences(table, s![i]!, t![i]!));
  };
  if (consistency.mode === 'snapshot') {
    const conns = (await Promise.all([source.conn(), target.conn()])) as [PgConn, PgConn];
    await Promise.all(conns.map((conn) => conn.q('begin isolation level repeatable read read only')));
    try {
      return await read(conns);
    } finally {
      // Not awaited: the session runs its statements in order, so the next one waits for this.
      for (const conn of conns) conn.q('rollback').catch(() => undefined);
    }
  }
  const pair = await openPair(source, target, consistency, 1);
  try {
    return await read([pair.source.conns[0]!, pair.target.conns[0]!]);
  } finally {
    await pair.close();
  }
}

/**
 * The rows (key, row hash) of the given keys of several tables in one statement (keys as text
 * arrays, one branch per table); `locking` (e.g. `for share of t`) is appended to each branch's read.
 */
async function rowsByKeysOfTables(conn: PgConn | PgSide, tables: Array<{ sql: TableSql; keys: string[][] }>, locking = ''): Promise<RowHash[][]> {
  const params: unknown[] = [];
  const branches = tables.map(({ sql, keys }, i) => {
    const arrays = sql.keyTypes.map((type, c) => {
      params.push(keys.map((key) => key[c]!));
      return `$${params.length}::text[]::${type}[]`;
    });
    const names = sql.keyTypes.map((_, c) => `c${c}`);
    return `select ${i} as i, array[${sql.table.key.map((_, c) => `x.k${c}`).join(', ')}] as k, x.h from (select ${sql.keyText}, ${sql.hash}::text as h from ${sql.from}
      where ${sql.keyTuple} in (select ${names.map((n) => `u.${n}`).join(', ')} from unnest(${arrays.join(', ')}) as u(${names.join(', ')})) ${locking}) x`;
  });
  const rows = await conn.q<{ i: number; k: string[]; h: string }>(branches.join('\nunion all\n'), params);
  const out: RowHash[][] = tables.map(() => []);
  for (const row of rows) out[row.i]!.push({ key: row.k, hash: row.h });
  return out;
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
      senderRows.set(table, (await rowsByKeysOfTables(lock, [{ sql: sqls.get(table)!, keys }], 'for share of t'))[0]!);
      count();
    }
    const beat = await heartbeat(sender, receiver, direction, 30_000);
    if (!beat.arrived) {
      throw new FerryError('parity', `the ${receiver.side} did not replay a heartbeat within 30 s`, { fix: 'check replication lag with `ferry data status`' });
    }
    for (const [table, keys] of byTable) {
      receiverRows.set(table, (await rowsByKeysOfTables(receiver, [{ sql: sqls.get(table)!, keys }]))[0]!);
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
  /** Columns chunk ranges are on: the whole key, or only its leading integer column. */
  rangeCols: string[];
  rangeTypes: string[];
  hash: string;
  /** Hash of the key alone: picks a row's sub-bucket, the same on both sides whatever its content. */
  keyHash: string;
  /**
   * The key's order does not follow the physical order (pg_stats correlation of the leading key
   * column under 0.9: uuids, hashed ids, tenant-led keys): an index range scan would visit a page
   * per row, so the table is read in physical order instead, by page ranges (TID range scans),
   * and summarised per bucket of the key hash (see summarizeBuckets).
   */
  scattered: boolean;
  /** A cheap hash of the key alone (the key types' own extended hashes): picks a row's bucket in a scattered table. */
  bucketHash: string;
}

/** Extended hash functions of key types (the same value gives the same hash on any server of the same major version). */
const TYPE_HASH: Record<string, string> = {
  uuid: 'uuid_hash_extended',
  text: 'hashtextextended',
  bigint: 'hashint8extended',
  integer: 'hashint4extended',
  smallint: 'hashint2extended',
};

/**
 * Types whose equality is identity of their text form, so their typed hash (cheaper than
 * hashing text) proves the same thing as the text hash. Columns of other types are hashed
 * through their text (float -0/0, unconstrained numeric 1.0/1.00, jsonb numbers, citext,
 * json, intervals, arrays, types without a hash function).
 */
const TYPED_HASH_SAFE =
  /^(smallint|integer|bigint|boolean|text|oid|uuid|bytea|date|inet|cidr|macaddr|time(\(\d\))? without time zone|character varying(\(\d+\))?|character(\(\d+\))?|numeric\(\d+,\d+\)|timestamp(\(\d\))? with(out)? time zone)$/;

/** The row hash expression over alias `t`: typed where safe, text otherwise (or text throughout when asked). */
export function rowHashSql(table: TableInfo, requested: 'text' | 'record'): string {
  const cols = table.columns.map((c) => `t.${ident(c.name)}`);
  if (requested === 'text') return `hashtextextended((${table.columns.length === 1 ? `row(${cols[0]})` : `(${cols.join(', ')})`})::text, 0)`;
  const parts = table.columns.map((c, i) => {
    if (TYPED_HASH_SAFE.test(c.type)) return cols[i]!;
    // A numeric's text is its value and display scale: hashing both is as strict as the text, and cheaper.
    if (c.type === 'numeric') return `${cols[i]}, scale(${cols[i]})`;
    return `${cols[i]}::text`;
  });
  return `hash_record_extended(row(${parts.join(', ')}), 0)`;
}

function tableSql(table: TableInfo, requested: 'text' | 'record'): TableSql {
  const keyCols = table.key.map((k) => `t.${ident(k.name)}`);
  const leadingInteger = table.key.length > 0 && INTEGER_TYPES.has(table.key[0]!.type);
  return {
    table,
    from: `${qualified(table.name)} t`,
    keyText: keyCols.map((col, i) => `${col}::text as k${i}`).join(', '),
    keyTuple: keyCols.length === 1 ? keyCols[0]! : `(${keyCols.join(', ')})`,
    keyTypes: table.key.map((k) => k.type),
    rangeCols: leadingInteger ? [keyCols[0]!] : keyCols,
    rangeTypes: leadingInteger ? [table.key[0]!.type] : table.key.map((k) => k.type),
    hash: rowHashSql(table, requested),
    keyHash: `hash_record_extended(row(${keyCols.join(', ')}), 0)`,
    scattered: false,
    // Each key column's own extended hash (seeded by position), XORed: a record hash of a composite key costs several
    // times more per row (it builds the record and looks up its type on every call).
    bucketHash: table.key.every((k) => TYPE_HASH[k.type])
      ? table.key.map((k, i) => `${TYPE_HASH[k.type]}(${keyCols[i]}, ${i})`).join(' # ')
      : `hash_record_extended(row(${keyCols.join(', ')}), 0)`,
  };
}

/** `$n::type` placeholders for one range bound, appending its values to params. */
function boundParam(sql: TableSql, key: string[], params: unknown[]): string {
  const parts = key.map((value, i) => {
    params.push(value);
    return `$${params.length}::${sql.rangeTypes[i]}`;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

function rangeTuple(sql: TableSql): string {
  return sql.rangeCols.length === 1 ? sql.rangeCols[0]! : `(${sql.rangeCols.join(', ')})`;
}

interface ChunkItem {
  id: number;
  range: KeyRange;
  /** Sub-buckets the chunk is split into by key hash (a power of two). */
  subs?: number;
  /** Sub-buckets to read (null: all rows). */
  pick?: number[] | null;
}

interface ChunkColumns {
  /** The chunk's sub-bucket count (SQL int). */
  subs: () => string;
  /** The sub-buckets to read (SQL int[], null for all). */
  pick: () => string;
}

/**
 * One statement over many chunks: bounded chunks through a LATERAL over arrays of their bounds
 * (one index range scan each), the open-ended first and last chunk as their own branches.
 * `body(where, columns)` is the per-chunk subquery; its rows come back tagged with the chunk id.
 */
function overChunks(sql: TableSql, items: ChunkItem[], body: (where: string, columns: ChunkColumns) => string): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const branches: string[] = [];
  const tuple = rangeTuple(sql);
  const pickText = (item: ChunkItem) => (item.pick ? `{${item.pick.join(',')}}` : null);
  const bounded = items.filter((item) => item.range.lower && item.range.upper);
  if (bounded.length > 0) {
    const arrays: string[] = [];
    const push = (values: unknown[], type: string) => {
      params.push(values);
      arrays.push(`$${params.length}::${type}`);
    };
    push(bounded.map((item) => item.id), 'int[]');
    push(bounded.map((item) => item.subs ?? 1), 'int[]');
    // Sub-bucket lists travel as the text of an int[] each (unnest cannot take a ragged 2-D array).
    push(bounded.map(pickText), 'text[]');
    sql.rangeTypes.forEach((type, i) => push(bounded.map((item) => item.range.lower![i]), `text[]::${type}[]`));
    sql.rangeTypes.forEach((type, i) => push(bounded.map((item) => item.range.upper![i]), `text[]::${type}[]`));
    const n = sql.rangeTypes.length;
    const names = ['id', 'ns', 'pk', ...sql.rangeTypes.map((_, i) => `l${i}`), ...sql.rangeTypes.map((_, i) => `u${i}`)];
    const tupleOf = (prefix: string) => (n === 1 ? `b.${prefix}0` : `(${sql.rangeTypes.map((_, i) => `b.${prefix}${i}`).join(', ')})`);
    // The pick list is cast once per chunk (p; offset 0 keeps it from being inlined into the scan), not once per row read.
    const columns = { subs: () => 'b.ns', pick: () => 'p.pk' };
    branches.push(
      `select b.id, s.* from unnest(${arrays.join(', ')}) as b(${names.join(', ')}) cross join lateral (select b.pk::int[] as pk offset 0) p
        cross join lateral (${body(`${tuple} >= ${tupleOf('l')} and ${tuple} < ${tupleOf('u')}`, columns)}) s`,
    );
  }
  for (const item of items.filter((i) => !(i.range.lower && i.range.upper))) {
    const conds: string[] = [];
    if (item.range.lower) conds.push(`${tuple} >= ${boundParam(sql, item.range.lower, params)}`);
    if (item.range.upper) conds.push(`${tuple} < ${boundParam(sql, item.range.upper, params)}`);
    // Parameters only where the body uses them (an unused last parameter fails the bind).
    const param = (value: unknown, type: string) => () => {
      params.push(value);
      return `$${params.length}::${type}`;
    };
    const columns = { subs: param(item.subs ?? 1, 'int'), pick: param(pickText(item), 'int[]') };
    branches.push(`select ${item.id}::int as id, s.* from (${body(conds.length > 0 ? conds.join(' and ') : 'true', columns)}) s`);
  }
  return { text: branches.join('\nunion all\n'), params };
}

/** A page range [from, to) of a scattered table's heap; `to` null: to the end (pages added since the catalog's count). */
interface PageSpan {
  from: number;
  to: number | null;
}

function pageFilter(span: PageSpan): string {
  const conds = [];
  if (span.from > 0) conds.push(`t.ctid >= '(${Math.floor(span.from)},0)'::tid`);
  if (span.to !== null) conds.push(`t.ctid < '(${Math.floor(span.to)},0)'::tid`);
  return conds.length > 0 ? conds.join(' and ') : 'true';
}

/**
 * Summaries of a scattered table's page span per bucket of the key hash (`buckets` a power of
 * two): a row lands in the same bucket on both sides wherever it sits in either heap, so the
 * spans' summaries add up (count) and XOR up (hash) per bucket. The hashes are computed below
 * an `offset 0` so the HashAggregate groups two integers per row instead of deforming the row
 * again (measured: 1.5× the plain hashing pass instead of 3×); ≤ 1,024 buckets keep its table
 * in the CPU's cache.
 */
async function summarizeBuckets(conn: PgConn, sql: TableSql, span: PageSpan, buckets: number): Promise<Array<{ b: number; n: string; h: string }>> {
  return conn.q<{ b: number; n: string; h: string }>(
    `select s.b, count(*)::text as n, bit_xor(s.h)::text as h
       from (select (${sql.bucketHash} & ${buckets - 1})::int as b, ${sql.hash} as h from ${sql.from} where ${pageFilter(span)} offset 0) s
      group by s.b`,
  );
}

/** The rows (key, row hash) of a scattered table's page span whose key hash falls in the given buckets; the row hash only for them. */
async function bucketRows(conn: PgConn, sql: TableSql, span: PageSpan, buckets: number, pick: number[]): Promise<RowHash[]> {
  const rows = await conn.q<Record<string, string>>(
    `select ${sql.keyText}, ${sql.hash}::text as h from ${sql.from}
      where ${pageFilter(span)} and (${sql.bucketHash} & ${buckets - 1})::int = any($1::int[])`,
    [pick],
  );
  const keys = sql.table.key.map((_, i) => `k${i}`);
  return rows.map((row) => ({ key: keys.map((k) => row[k]!), hash: row.h! }));
}

async function summarizeChunks(conn: PgConn, sql: TableSql, items: ChunkItem[]): Promise<Map<number, RangeSummary>> {
  const statement = overChunks(sql, items, (where) => `select count(*)::text as n, coalesce(bit_xor(${sql.hash}), 0)::text as h from ${sql.from} where ${where}`);
  const rows = await conn.q<{ id: number; n: string; h: string }>(statement.text, statement.params);
  return new Map(rows.map((row) => [row.id, { count: Number(row.n), hash: row.h }]));
}

async function subSummaries(conn: PgConn, sql: TableSql, items: ChunkItem[]): Promise<SubSummary[]> {
  const statement = overChunks(
    sql,
    items,
    (where, c) => `select (${sql.keyHash} & (${c.subs()} - 1))::int as sub, count(*)::text as n, bit_xor(${sql.hash})::text as h from ${sql.from} where ${where} group by 1`,
  );
  const rows = await conn.q<{ id: number; sub: number; n: string; h: string }>(statement.text, statement.params);
  return rows.map((row) => ({ chunk: row.id, sub: row.sub, count: Number(row.n), hash: row.h }));
}

async function leafRowsOf(conn: PgConn, sql: TableSql, items: ChunkItem[]): Promise<RowHash[]> {
  const keys = sql.table.key.map((_, i) => `k${i}`);
  // The filter is on the key hash: the row hash (detoasting large values) is computed only for the rows returned.
  const statement = overChunks(
    sql,
    items,
    (where, c) => {
      const pick = c.pick();
      return `select ${sql.keyText}, ${sql.hash}::text as h from ${sql.from} where ${where} and (${pick} is null or (${sql.keyHash} & (${c.subs()} - 1))::int = any(${pick}))`;
    },
  );
  const rows = await conn.q<Record<string, string>>(statement.text, statement.params);
  return rows.map((row) => ({ key: keys.map((k) => row[k]!), hash: row.h! }));
}

/**
 * Chunk ranges of every table. Integer-led keys whose span has room for the chunks: equal-width
 * ranges of the leading column between min and max over both sides. Others: boundaries at
 * quantiles of a block sample of the source's keys (a few percent of the pages, sorted in the
 * server), any boundaries being correct and equal sizes only a matter of speed. Tables whose
 * key order does not follow the heap get no key ranges: they are read by page spans (TableSql.scattered).
 */
async function planChunks(
  sqls: TableSql[],
  sources: PgConn[],
  targets: PgConn[],
  chunkRows: number,
): Promise<{ ranges: KeyRange[][]; rows: number[]; scattered: Array<ScatteredPlan | null>; queries: number }> {
  const whole = (): KeyRange[] => [{ lower: null, upper: null }];
  const ranges: KeyRange[][] = sqls.map(() => whole());
  const rows = sqls.map((sql) => sql.table.estimatedRows);
  const keyed = sqls.map((sql, i) => ({ sql, i })).filter(({ sql }) => sql.table.key.length > 0);
  if (keyed.length === 0) return { ranges, rows, scattered: sqls.map(() => null), queries: 0 };
  let queries = 1;
  const layouts = await sources[0]!.q<{ i: number; pages: number; corr: number | null; version: number }>(
    `select u.i::int as i, c.relpages::int as pages, current_setting('server_version_num')::int as version,
            (select s.correlation from pg_stats s where s.schemaname = u.sch and s.tablename = u.tab and s.attname = u.col) as corr
       from unnest($1::text[], $2::text[], $3::text[], $4::text[]) with ordinality as u(rel, sch, tab, col, i)
       join pg_class c on c.oid = u.rel::regclass`,
    [
      keyed.map(({ sql }) => qualified(sql.table.name)),
      keyed.map(({ sql }) => splitQualified(sql.table.name).schema),
      keyed.map(({ sql }) => splitQualified(sql.table.name).name),
      keyed.map(({ sql }) => sql.table.key[0]!.name),
    ],
  );
  const pages = new Map<number, number>();
  const scattered: Array<ScatteredPlan | null> = sqls.map(() => null);
  for (const layout of layouts) {
    const { sql, i } = keyed[layout.i - 1]!;
    pages.set(i, layout.pages);
    sql.scattered = layout.corr !== null && Math.abs(layout.corr) < 0.9 && layout.pages > 0 && layout.version >= 140000;
    if (sql.scattered) scattered[i] = { pages: layout.pages, buckets: bucketsFor(rows[i]!) };
  }
  const chunkCount = (_i: number, n: number) => Math.max(1, Math.ceil(n / chunkRows));

  const ranged = keyed.filter(({ sql }) => !sql.scattered);
  const integer = ranged.filter(({ sql }) => sql.rangeCols.length === 1 && INTEGER_TYPES.has(sql.rangeTypes[0]!));
  const sampled = ranged.filter(({ sql }) => !integer.some((x) => x.sql === sql));
  if (integer.length > 0) {
    const q = `select ${integer.map(({ sql }, k) => `(select min(${sql.rangeCols[0]})::text from ${sql.from}) as lo${k}, (select max(${sql.rangeCols[0]})::text from ${sql.from}) as hi${k}`).join(', ')}`;
    const [s, t] = await Promise.all([sources[0]!.one<Record<string, string | null>>(q), targets[0]!.one<Record<string, string | null>>(q)]);
    queries += 2;
    integer.forEach(({ sql, i }, k) => {
      const los = [s[`lo${k}`], t[`lo${k}`]].filter((v): v is string => v != null).map(BigInt);
      const his = [s[`hi${k}`], t[`hi${k}`]].filter((v): v is string => v != null).map(BigInt);
      if (los.length === 0) {
        rows[i] = 0;
        return;
      }
      const lo = los.reduce((a, b) => (a < b ? a : b));
      const hi = his.reduce((a, b) => (a > b ? a : b));
      const span = hi - lo + 1n;
      // A never-analysed table (reltuples unknown): assume the span is dense.
      rows[i] = sql.table.estimatedRows > 0 ? sql.table.estimatedRows : Number(span);
      const chunks = chunkCount(i, rows[i]!);
      if (sql.table.key.length === 1 || span >= BigInt(chunks)) {
        ranges[i] = integerRanges(lo, hi, integerBoundaries(lo, hi, chunks));
        return;
      }
      // A low-cardinality leading column (a tenant id): chunk on the whole key instead.
      sql.rangeCols = sql.table.key.map((k) => `t.${ident(k.name)}`);
      sql.rangeTypes = sql.table.key.map((k) => k.type);
      sampled.push({ sql, i });
    });
  }
  await pool(sampled.length, sources.length, async (k, w) => {
    const { sql, i } = sampled[k]!;
    const conn = sources[w]!;
    if (rows[i]! <= 0) {
      rows[i] = Number((await conn.one<{ n: string }>(`select count(*)::text as n from ${sql.from}`)).n);
      queries++;
    }
    const n = rows[i]!;
    const chunks = chunkCount(i, n);
    if (chunks <= 1) return;
    // Enough rows for SAMPLE_PER_CHUNK per chunk, from at least 32 pages (a block sample of few pages is lumpy).
    const percent = Math.min(100, Math.max((100 * chunks * SAMPLE_PER_CHUNK) / Math.max(n, 1), (100 * 32) / Math.max(pages.get(i) ?? 1, 1)));
    const names = sql.table.key.map((_, c) => `k${c}`);
    const step = Math.max(1, Math.round((n * percent) / 100 / chunks));
    const keys = await conn.q<Record<string, string>>(
      `select ${names.join(', ')} from (select ${sql.keyText}, row_number() over (order by ${sql.keyTuple}) as rn
         from (select ${sql.table.key.map((c) => ident(c.name)).join(', ')} from ${qualified(sql.table.name)} tablesample system (${percent.toFixed(6)})) t) s
        where rn % ${step} = 0 order by rn`,
    );
    queries++;
    ranges[i] = rangesFromBoundaries(keys.map((row) => names.map((c) => row[c]!)));
  });
  return { ranges, rows, scattered, queries };
}

/** A scattered table's plan: its heap pages (from the catalog) and the key-hash buckets it is summarised by. */
interface ScatteredPlan {
  pages: number;
  buckets: number;
}

/** Heap pages one scan unit of a scattered table covers (segments are runs of units). */
const PAGES_PER_UNIT = 32;

