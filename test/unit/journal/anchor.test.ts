import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnchorWriter, headIsSigned, signHead, type JournalAnchor, type JournalHead } from '../../../src/journal/anchor.js';
import { JournalKey } from '../../../src/journal/key.js';

const key = new JournalKey(Buffer.alloc(32, 7), 'test');
const head = (count: number) => signHead(key, { runId: 'r', jid: 'j', count, lastHash: String(count).padStart(64, '0'), at: '2026-11-30T00:00:00.000Z' });

/** An anchor that takes `delayMs` per write, as a cluster round trip does; fails the first `failures` writes. */
function slowAnchor(delayMs: number, failures = 0): JournalAnchor & { heads: JournalHead[] } {
  let failed = 0;
  const heads: JournalHead[] = [];
  return {
    where: 'slow test anchor',
    heads,
    read: async () => heads.at(-1),
    list: async () => heads.slice(-1),
    write: async (written) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (failed++ < failures) throw new Error('connection refused');
      heads.push(written);
    },
  };
}

test('a head is signed with the key: changing its count or hash, or another key, does not verify', () => {
  const signed = head(5);
  assert.equal(headIsSigned(key, signed), true);
  assert.equal(headIsSigned(key, { ...signed, count: 4 }), false);
  assert.equal(headIsSigned(key, { ...signed, lastHash: 'f'.repeat(64) }), false);
  assert.equal(headIsSigned(new JournalKey(Buffer.alloc(32, 8), 'other'), signed), false);
});

test('a slow anchor costs one write in flight: heads submitted meanwhile coalesce, in order, to the newest', async () => {
  const anchor = slowAnchor(30);
  const writer = new AnchorWriter(anchor);
  const started = performance.now();
  for (let count = 1; count <= 200; count++) writer.submit(head(count));
  const submitMs = performance.now() - started;
  await writer.flush();
  assert.ok(submitMs < 50, `submitting 200 heads took ${submitMs} ms`);
  assert.equal(anchor.heads.at(-1)!.count, 200);
  assert.ok(anchor.heads.length <= 3, `${anchor.heads.length} writes for 200 heads`);
  assert.deepEqual(anchor.heads.map((h) => h.count), [...anchor.heads.map((h) => h.count)].sort((a, b) => a - b), 'never goes back');
});

test('a failing anchor is retried; flush waits for the newest head, and fails with the cause after its timeout', async () => {
  const flaky = slowAnchor(5, 2);
  const writer = new AnchorWriter(flaky);
  writer.submit(head(1));
  await writer.flush();
  assert.equal(flaky.heads.at(-1)!.count, 1);

  const dead = slowAnchor(5, Infinity);
  const stuck = new AnchorWriter(dead, 400);
  stuck.submit(head(3));
  await assert.rejects(stuck.flush(), /could not write the journal head \(record 3\) to slow test anchor within 400 ms: connection refused/);
  stuck.stop();
});
