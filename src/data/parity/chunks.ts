/**
 * Pure planning for the chunked parity scan: where chunk boundaries go, how chunks are
 * grouped into statements spread over a connection budget, and which sub-buckets of a
 * mismatched chunk the locate phase reads row by row. No I/O, so tests drive it directly.
 *
 * Locate in two steps, each one statement per table and side whatever the number of
 * differences: (1) every mismatched chunk is summarised again grouped by the low bits of the
 * key hash (about 32 rows a sub-bucket: a row is in the same one on both sides whatever its
 * content); (2) the rows of the sub-buckets that differ are read with their hashes, and the
 * row-level diff runs over the union of a table's rows (a key a side's collation puts in
 * another chunk is still paired up).
 */
import { summariesEqual, type KeyRange, type RangeSummary } from './bisect.js';

/**
 * Boundaries splitting the integer span [lo, hi] into `chunks` ranges of equal width: the
 * values strictly inside the span where a new chunk starts.
 */
export function integerBoundaries(lo: bigint, hi: bigint, chunks: number): bigint[] {
  const span = hi - lo + 1n;
  if (span <= 1n || chunks <= 1) return [];
  const n = BigInt(chunks) > span ? span : BigInt(chunks);
  const width = span / n + (span % n === 0n ? 0n : 1n);
  const out: bigint[] = [];
  for (let b = lo + width; b <= hi; b += width) out.push(b);
  return out;
}

/** Ranges covering [lo, hi] exactly at the given inner boundaries ([lo, b1), [b1, b2), …, [bn, hi + 1)). */
export function integerRanges(lo: bigint, hi: bigint, bounds: bigint[]): KeyRange[] {
  const points = [lo, ...bounds, hi + 1n].map((v) => [v.toString()]);
  return points.slice(0, -1).map((lower, i) => ({ lower, upper: points[i + 1]! }));
}

export interface Segment {
  table: number;
  /** Chunk indexes [first, end) of that table. */
  first: number;
  end: number;
  rows: number;
}

/**
 * Groups each table's chunks into segments (one statement each), small enough that `workers`
 * connections stay busy to the end, largest first (longest-processing-time order), so the
 * scan takes about the largest of (total / workers, biggest segment).
 */
export function segments(tables: Array<{ chunks: number; rows: number }>, workers: number): Segment[] {
  const total = tables.reduce((sum, t) => sum + Math.max(t.rows, 1), 0);
  const target = Math.max(1, total / Math.max(1, workers * 4));
  const out: Segment[] = [];
  tables.forEach((t, table) => {
    const perChunk = Math.max(t.rows, 1) / Math.max(t.chunks, 1);
    const size = Math.max(1, Math.floor(target / perChunk));
    for (let first = 0; first < t.chunks; first += size) {
      const end = Math.min(t.chunks, first + size);
      out.push({ table, first, end, rows: perChunk * (end - first) });
    }
  });
  return out.sort((a, b) => b.rows - a.rows || a.table - b.table || a.first - b.first);
}

/** A sub-bucket summary of one chunk: `sub` is the key hash's low bits. */
export interface SubSummary extends RangeSummary {
  chunk: number;
  sub: number;
}

/**
 * For each chunk, the sub-buckets whose summaries differ between the sides (ascending).
 * Chunks with no differing sub-bucket are left out.
 */
export function differingSubBuckets(source: SubSummary[], target: SubSummary[]): Map<number, number[]> {
  const index = (list: SubSummary[]) => new Map(list.map((s) => [`${s.chunk}:${s.sub}`, s]));
  const s = index(source);
  const t = index(target);
  const out = new Map<number, number[]>();
  for (const id of new Set([...s.keys(), ...t.keys()])) {
    const a = s.get(id) ?? { count: 0, hash: '0' };
    const b = t.get(id) ?? { count: 0, hash: '0' };
    if (summariesEqual(a, b)) continue;
    const [chunk, sub] = id.split(':').map(Number) as [number, number];
    const subs = out.get(chunk);
    if (subs) subs.push(sub);
    else out.set(chunk, [sub]);
  }
  for (const subs of out.values()) subs.sort((x, y) => x - y);
  return out;
}

/**
 * Sub-buckets to split a mismatched chunk of `rows` rows into: a power of two giving about
 * `rowsPerSub` rows each (at least `min`, at most 65,536), so a differing row costs reading
 * about that many rows whatever the chunk's size.
 */
export function subBucketsFor(rows: number, rowsPerSub: number, min: number): number {
  let n = 2;
  while (n < 65_536 && (n < min || rows / n > rowsPerSub)) n *= 2;
  return n;
}

/**
 * Key-hash buckets for a table read in physical order (parity's scattered tables): a power of
 * two, ~128 rows each, 64–1,024. More buckets make each page span's HashAggregate outgrow the
 * CPU's cache (measured: 16,384 cost 1.6× what 1,024 do); fewer make the locate read more rows
 * per differing bucket.
 */
export function bucketsFor(rows: number): number {
  let n = 64;
  while (n < 1024 && rows / n > 128) n *= 2;
  return n;
}

/** Two summaries of disjoint row sets as one: counts add, hashes XOR (bit_xor is order-free, so page spans combine in any order). */
export function addSummary(a: RangeSummary | undefined, b: RangeSummary): RangeSummary {
  if (!a) return b;
  return { count: a.count + b.count, hash: BigInt.asIntN(64, BigInt(a.hash) ^ BigInt(b.hash)).toString() };
}

/** Buckets (0 … buckets-1) whose summaries differ between the sides; a bucket one side never reported is empty there. */
export function differingBuckets(source: ReadonlyArray<RangeSummary | undefined>, target: ReadonlyArray<RangeSummary | undefined>, buckets: number): number[] {
  const out: number[] = [];
  const none = { count: 0, hash: '0' };
  for (let b = 0; b < buckets; b++) if (!summariesEqual(source[b] ?? none, target[b] ?? none)) out.push(b);
  return out;
}
