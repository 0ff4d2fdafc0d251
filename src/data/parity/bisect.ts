/**
 * Pure parity logic shared by the scan: key ranges, comparison of range summaries and the
 * row-level diff (missing/extra/changed). No I/O.
 *
 * It also holds a locate by bisection (`locateDifferences`, `splitRange`): a mismatched range
 * is split at keys read from the database until ranges are small enough to diff row by row,
 * the database behind a `RangeOracle` (range summaries, split keys, rows), so tests drive it
 * over in-memory tables. PostgreSQL parity no longer uses it — it locates by key-hash
 * sub-buckets summarised in the server (chunks.ts) — and no other provider does yet; it is
 * kept, with its tests, for a database that can summarise key ranges but not group by a key hash.
 *
 * Keys are tuples of text values (how PostgreSQL prints the key columns); ordering is the
 * database's business (collations), so nothing here compares keys — only equality.
 */

/** A primary-key range [lower, upper); `null` is unbounded. */
export interface KeyRange {
  lower: string[] | null;
  upper: string[] | null;
}

export interface RangeSummary {
  count: number;
  /** bit_xor of row hashes, as decimal text (a 64-bit value). */
  hash: string;
}

export interface RowHash {
  key: string[];
  hash: string;
}

export type RowDiffKind = 'missing' | 'extra' | 'changed';

export interface KeyDiff {
  key: string[];
  /** missing: on source only; extra: on target only; changed: on both, different content. */
  kind: RowDiffKind;
}

/** What the bisection needs from the two databases; one call is one query per side. */
export interface RangeOracle {
  /** Summaries of consecutive sub-ranges of `range` split at `bounds`, on one side. */
  summarize(side: 'source' | 'target', range: KeyRange, bounds: string[][]): Promise<RangeSummary[]>;
  /** Keys that split `range` into about `parts` parts of equal row count, read on `side`. */
  boundaries(side: 'source' | 'target', range: KeyRange, parts: number, rows: number): Promise<string[][]>;
  /** Every row of `range` with its hash, on one side. */
  rows(side: 'source' | 'target', range: KeyRange): Promise<RowHash[]>;
}

export interface MismatchedRange {
  range: KeyRange;
  source: RangeSummary;
  target: RangeSummary;
}

export interface LocateOptions {
  /** A range with at most this many rows on either side is compared row by row. */
  leafRows: number;
  /** How many parts a larger range is split into per level. */
  fanout: number;
  /** Safety stop for pathological inputs. */
  maxDepth?: number;
}

export interface LocateResult {
  differences: KeyDiff[];
  /** Queries issued (each side counts one). */
  queries: number;
}

/** Splits [lower, upper) at the given bounds into consecutive ranges covering it exactly. */
export function splitRange(range: KeyRange, bounds: string[][]): KeyRange[] {
  const points = dedupeKeys(bounds);
  const ranges: KeyRange[] = [];
  let lower = range.lower;
  for (const point of points) {
    ranges.push({ lower, upper: point });
    lower = point;
  }
  ranges.push({ lower, upper: range.upper });
  return ranges;
}

/** Ranges of a whole table split at chunk boundaries: the first and last are open-ended. */
export function rangesFromBoundaries(bounds: string[][]): KeyRange[] {
  return splitRange({ lower: null, upper: null }, bounds);
}

export function summariesEqual(a: RangeSummary, b: RangeSummary): boolean {
  return a.count === b.count && a.hash === b.hash;
}

/** Pairs up summaries of the same ranges and keeps the ranges that differ. */
export function mismatchedRanges(ranges: KeyRange[], source: RangeSummary[], target: RangeSummary[]): MismatchedRange[] {
  const out: MismatchedRange[] = [];
  ranges.forEach((range, i) => {
    const s = source[i] ?? { count: 0, hash: '0' };
    const t = target[i] ?? { count: 0, hash: '0' };
    if (!summariesEqual(s, t)) out.push({ range, source: s, target: t });
  });
  return out;
}

/** Row-level diff of the same range read on both sides; order of the result follows the source, then extras. */
export function diffRowHashes(source: RowHash[], target: RowHash[]): KeyDiff[] {
  const targetByKey = new Map<string, RowHash>();
  for (const row of target) targetByKey.set(keyId(row.key), row);
  const out: KeyDiff[] = [];
  const seen = new Set<string>();
  for (const row of source) {
    const id = keyId(row.key);
    seen.add(id);
    const other = targetByKey.get(id);
    if (!other) out.push({ key: row.key, kind: 'missing' });
    else if (other.hash !== row.hash) out.push({ key: row.key, kind: 'changed' });
  }
  for (const row of target) if (!seen.has(keyId(row.key))) out.push({ key: row.key, kind: 'extra' });
  return out;
}

/**
 * Narrows mismatched ranges to the keys that differ: a range small enough is read row by
 * row on both sides; a larger one is split (at keys read from the side holding more rows)
 * and only its mismatched parts are followed. Differences are found exactly, because every
 * split covers its range and row-level diffs are exact.
 */
export async function locateDifferences(
  oracle: RangeOracle,
  mismatched: MismatchedRange[],
  options: LocateOptions,
): Promise<LocateResult> {
  const maxDepth = options.maxDepth ?? 64;
  let queries = 0;
  const differences: KeyDiff[] = [];
  const fanout = Math.max(2, options.fanout);
  const visit = async (item: MismatchedRange, depth: number): Promise<void> => {
    const rows = Math.max(item.source.count, item.target.count);
    if (rows <= options.leafRows || depth >= maxDepth) {
      const [s, t] = await Promise.all([oracle.rows('source', item.range), oracle.rows('target', item.range)]);
      queries += 2;
      differences.push(...diffRowHashes(s, t));
      return;
    }
    const side = item.source.count >= item.target.count ? 'source' : 'target';
    const bounds = await oracle.boundaries(side, item.range, fanout, rows);
    queries += 1;
    const parts = splitRange(item.range, bounds);
    if (parts.length < 2) {
      // No key splits the range (cannot happen with a primary key): read it row by row.
      await visit({ ...item, source: { ...item.source, count: 0 }, target: { ...item.target, count: 0 } }, maxDepth);
      return;
    }
    const [s, t] = await Promise.all([
      oracle.summarize('source', item.range, bounds),
      oracle.summarize('target', item.range, bounds),
    ]);
    queries += 2;
    for (const next of mismatchedRanges(parts, s, t)) await visit(next, depth + 1);
  };
  for (const item of mismatched) await visit(item, 0);
  return { differences, queries };
}

export function keyId(key: string[]): string {
  return JSON.stringify(key);
}

function dedupeKeys(keys: string[][]): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const key of keys) {
    const id = keyId(key);
    if (!seen.has(id)) {
      seen.add(id);
      out.push(key);
    }
  }
  return out;
}
