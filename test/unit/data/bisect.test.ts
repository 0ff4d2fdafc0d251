import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  diffRowHashes,
  locateDifferences,
  mismatchedRanges,
  rangesFromBoundaries,
  splitRange,
  type KeyRange,
  type RangeOracle,
  type RangeSummary,
  type RowHash,
} from '../../../src/data/parity/bisect.js';

type Table = Map<number, string>;

function inRange(key: number, range: KeyRange): boolean {
  return (range.lower === null || key >= Number(range.lower[0])) && (range.upper === null || key < Number(range.upper[0]));
}

function hashOf(value: string): bigint {
  let h = 1469598103934665603n;
  for (const char of value) h = ((h ^ BigInt(char.charCodeAt(0))) * 1099511628211n) & 0xffffffffffffffffn;
  return h;
}

function summary(table: Table, range: KeyRange): RangeSummary {
  let count = 0;
  let hash = 0n;
  for (const [key, value] of table) {
    if (!inRange(key, range)) continue;
    count++;
    hash ^= hashOf(`${key}:${value}`);
  }
  return { count, hash: hash.toString() };
}

/** The same contract as the PostgreSQL oracle, over two in-memory tables. */
function memoryOracle(source: Table, target: Table): RangeOracle & { calls: number } {
  const sideOf = (side: 'source' | 'target') => (side === 'source' ? source : target);
  const oracle = {
    calls: 0,
    async summarize(side: 'source' | 'target', range: KeyRange, bounds: string[][]) {
      oracle.calls++;
      return splitRange(range, bounds).map((part) => summary(sideOf(side), part));
    },
    async boundaries(side: 'source' | 'target', range: KeyRange, parts: number, rows: number) {
      oracle.calls++;
      const keys = [...sideOf(side).keys()].filter((key) => inRange(key, range)).sort((a, b) => a - b);
      const step = Math.max(1, Math.ceil(rows / parts));
      return keys.filter((_, i) => i > 0 && i % step === 0).map((key) => [String(key)]);
    },
    async rows(side: 'source' | 'target', range: KeyRange): Promise<RowHash[]> {
      oracle.calls++;
      return [...sideOf(side)]
        .filter(([key]) => inRange(key, range))
        .map(([key, value]) => ({ key: [String(key)], hash: hashOf(`${key}:${value}`).toString() }));
    },
  };
  return oracle;
}

function trueDiff(source: Table, target: Table): string[] {
  const out: string[] = [];
  for (const [key, value] of source) {
    if (!target.has(key)) out.push(`missing:${key}`);
    else if (target.get(key) !== value) out.push(`changed:${key}`);
  }
  for (const key of target.keys()) if (!source.has(key)) out.push(`extra:${key}`);
  return out.sort();
}

const tablePair = fc
  .record({
    keys: fc.uniqueArray(fc.integer({ min: -5000, max: 5000 }), { maxLength: 400 }),
    edits: fc.array(
      fc.record({ op: fc.constantFrom('delete', 'insert', 'change'), key: fc.integer({ min: -5100, max: 5100 }), value: fc.string({ maxLength: 3 }) }),
      { maxLength: 12 },
    ),
    chunk: fc.integer({ min: 1, max: 80 }),
    leafRows: fc.integer({ min: 1, max: 40 }),
    fanout: fc.integer({ min: 2, max: 16 }),
  })
  .map(({ keys, edits, chunk, leafRows, fanout }) => {
    const source: Table = new Map(keys.map((key) => [key, `v${key}`]));
    const target: Table = new Map(source);
    for (const edit of edits) {
      if (edit.op === 'delete') target.delete(edit.key);
      else if (edit.op === 'insert' && !target.has(edit.key)) target.set(edit.key, edit.value);
      else if (edit.op === 'change' && target.has(edit.key)) target.set(edit.key, `${target.get(edit.key)}${edit.value}x`);
    }
    return { source, target, chunk, leafRows, fanout };
  });

test('bisection finds exactly the keys that are missing, extra or changed', async () => {
  await fc.assert(
    fc.asyncProperty(tablePair, async ({ source, target, chunk, leafRows, fanout }) => {
      const sorted = [...source.keys()].sort((a, b) => a - b);
      const bounds = sorted.filter((_, i) => i > 0 && i % chunk === 0).map((key) => [String(key)]);
      const ranges = rangesFromBoundaries(bounds);
      const oracle = memoryOracle(source, target);
      const s = ranges.map((range) => summary(source, range));
      const t = ranges.map((range) => summary(target, range));
      const result = await locateDifferences(oracle, mismatchedRanges(ranges, s, t), { leafRows, fanout });
      const found = result.differences.map((d) => `${d.kind}:${d.key[0]}`).sort();
      assert.deepEqual(found, trueDiff(source, target));
      assert.equal(result.queries, oracle.calls);
    }),
    { numRuns: 300 },
  );
});

test('split ranges cover the range exactly once, whatever the bounds', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { maxLength: 30 }), fc.integer({ min: 0, max: 1000 }), (points, probe) => {
      const bounds = points.sort((a, b) => a - b).map((p) => [String(p)]);
      const parts = splitRange({ lower: null, upper: null }, bounds);
      assert.equal(parts.length, bounds.length + 1);
      assert.equal(parts.filter((part) => inRange(probe, part)).length, 1);
    }),
  );
});

test('row diff names missing, extra and changed rows; equal sides give nothing', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ maxLength: 4 }), { maxLength: 50 }), (keys) => {
      const rows = keys.map((key) => ({ key: [key], hash: String(hashOf(key)) }));
      assert.deepEqual(diffRowHashes(rows, [...rows].reverse()), []);
    }),
  );
  const diff = diffRowHashes(
    [{ key: ['1'], hash: 'a' }, { key: ['2'], hash: 'b' }, { key: ['3'], hash: 'c' }],
    [{ key: ['1'], hash: 'a' }, { key: ['3'], hash: 'X' }, { key: ['4'], hash: 'd' }],
  );
  assert.deepEqual(diff, [
    { key: ['2'], kind: 'missing' },
    { key: ['3'], kind: 'changed' },
    { key: ['4'], kind: 'extra' },
  ]);
});

test('one changed row in 10,000 is located with a handful of queries after the chunk scan', async () => {
  const source: Table = new Map(Array.from({ length: 10_000 }, (_, i) => [i, `v${i}`]));
  const target: Table = new Map(source);
  target.set(4321, 'changed');
  const range = { lower: null, upper: null };
  const result = await locateDifferences(
    memoryOracle(source, target),
    [{ range, source: summary(source, range), target: summary(target, range) }],
    { leafRows: 1000, fanout: 16 },
  );
  assert.deepEqual(result.differences, [{ key: ['4321'], kind: 'changed' }]);
  assert.equal(result.queries, 5); // split (1) + summaries (2) + rows (2)
});
