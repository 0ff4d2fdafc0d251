import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addSummary, bucketsFor, differingBuckets, differingSubBuckets, integerBoundaries, integerRanges, segments, subBucketsFor, type SubSummary } from '../../../src/data/parity/chunks.js';

test('integer chunks cover [lo, hi] exactly once, about equally wide', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), fc.bigInt({ min: 0n, max: 10_000n }), fc.integer({ min: 1, max: 300 }), fc.bigInt({ min: 0n, max: 10_000n }), (lo, width, chunks, offset) => {
      const hi = lo + width;
      const ranges = integerRanges(lo, hi, integerBoundaries(lo, hi, chunks));
      assert.ok(ranges.length <= Math.max(1, chunks));
      assert.equal(BigInt(ranges[0]!.lower![0]!), lo);
      assert.equal(BigInt(ranges.at(-1)!.upper![0]!), hi + 1n);
      for (let i = 1; i < ranges.length; i++) assert.deepEqual(ranges[i]!.lower, ranges[i - 1]!.upper);
      const probe = lo + (offset % (width + 1n));
      assert.equal(ranges.filter((r) => BigInt(r.lower![0]!) <= probe && probe < BigInt(r.upper![0]!)).length, 1);
      const widths = ranges.map((r) => BigInt(r.upper![0]!) - BigInt(r.lower![0]!));
      assert.ok(widths.every((w) => w > 0n));
    }),
  );
});

test('segments hand out every chunk of every table exactly once, largest first', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ chunks: fc.integer({ min: 1, max: 200 }), rows: fc.integer({ min: 0, max: 1_000_000 }) }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 16 }), (tables, workers) => {
      const out = segments(tables, workers);
      tables.forEach((table, i) => {
        const mine = out.filter((s) => s.table === i).sort((a, b) => a.first - b.first);
        assert.equal(mine[0]!.first, 0);
        assert.equal(mine.at(-1)!.end, table.chunks);
        for (let k = 1; k < mine.length; k++) assert.equal(mine[k]!.first, mine[k - 1]!.end);
      });
      for (let k = 1; k < out.length; k++) assert.ok(out[k - 1]!.rows >= out[k]!.rows);
    }),
  );
});

test('differing sub-buckets are exactly those whose count or hash differ, per chunk', () => {
  const summary = fc.record({ chunk: fc.integer({ min: 0, max: 5 }), sub: fc.integer({ min: 0, max: 63 }), count: fc.integer({ min: 1, max: 3 }), hash: fc.constantFrom('1', '2', '-3') });
  fc.assert(
    fc.property(fc.uniqueArray(summary, { selector: (s) => `${s.chunk}:${s.sub}` }), fc.uniqueArray(summary, { selector: (s) => `${s.chunk}:${s.sub}` }), (source: SubSummary[], target: SubSummary[]) => {
      const masks = differingSubBuckets(source, target);
      for (let chunk = 0; chunk <= 5; chunk++) {
        for (let sub = 0; sub < 64; sub++) {
          const a = source.find((s) => s.chunk === chunk && s.sub === sub);
          const b = target.find((s) => s.chunk === chunk && s.sub === sub);
          const differ = (a?.count ?? 0) !== (b?.count ?? 0) || (a?.hash ?? '0') !== (b?.hash ?? '0');
          assert.equal((masks.get(chunk) ?? []).includes(sub), differ);
        }
      }
    }),
  );
});

test('a large chunk gets more sub-buckets: about the same rows to read per differing row', () => {
  assert.equal(subBucketsFor(2_000, 32, 64), 64);
  assert.equal(subBucketsFor(150_000, 32, 64), 8192);
  assert.equal(subBucketsFor(10, 32, 64), 64);
  assert.equal(subBucketsFor(1e12, 32, 64), 65_536);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5_000_000 }), (rows) => {
      const n = subBucketsFor(rows, 32, 64);
      assert.equal(n & (n - 1), 0);
      assert.ok(n >= 64 && n <= 65_536 && (rows / n <= 32 || n === 65_536));
    }),
  );
});

test('bucket summaries of page spans combine to the same whole however the rows are laid out', () => {
  // A side's rows (bucket, 64-bit hash) cut into spans at random places; the other side holds the same rows in another order.
  const row = fc.record({ bucket: fc.integer({ min: 0, max: 63 }), hash: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) });
  fc.assert(
    fc.property(fc.array(row, { maxLength: 200 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 5 }), fc.integer(), (rows, cuts, seed) => {
      const combine = (order: typeof rows, at: number[]) => {
        const out: Array<{ count: number; hash: string } | undefined> = [];
        const bounds = [0, ...at.map((c) => c % (order.length + 1)).sort((a, b) => a - b), order.length];
        for (let i = 0; i + 1 < bounds.length; i++) {
          // One span's GROUP BY: count and bit_xor per bucket.
          const span = new Map<number, { count: number; hash: bigint }>();
          for (const r of order.slice(bounds[i], bounds[i + 1])) {
            const s = span.get(r.bucket) ?? { count: 0, hash: 0n };
            span.set(r.bucket, { count: s.count + 1, hash: s.hash ^ r.hash });
          }
          for (const [b, s] of span) out[b] = addSummary(out[b], { count: s.count, hash: BigInt.asIntN(64, s.hash).toString() });
        }
        return out;
      };
      const shuffled = [...rows].sort((a, b) => ((Number(BigInt.asUintN(16, a.hash)) ^ seed) & 0xff) - ((Number(BigInt.asUintN(16, b.hash)) ^ seed) & 0xff));
      assert.deepEqual(differingBuckets(combine(rows, cuts), combine(shuffled, []), 64), []);
      if (rows.length > 0) {
        // One changed row: exactly its bucket differs.
        const changed = rows.map((r, i) => (i === 0 ? { ...r, hash: r.hash ^ 1n } : r));
        assert.deepEqual(differingBuckets(combine(rows, cuts), combine(changed, cuts), 64), [rows[0]!.bucket]);
        // One missing row: its bucket differs by count.
        assert.deepEqual(differingBuckets(combine(rows, cuts), combine(rows.slice(1), []), 64), [rows[0]!.bucket]);
      }
    }),
  );
});

test('buckets are a power of two between 64 and 1,024, about 128 rows each', () => {
  for (const [rows, want] of [[0, 64], [8_000, 64], [140_000, 1024], [14_000_000, 1024], [30_000, 256]] as const) assert.equal(bucketsFor(rows), want);
});
