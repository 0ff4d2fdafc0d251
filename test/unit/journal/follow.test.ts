import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { followJournal } from '../../../src/journal/follow.js';
import type { JournalRecord } from '../../../src/journal/record.js';
import { openTestJournal } from '../../helpers/journal.js';

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a follower sees every record another writer appends, in order, whole, and only once', async () => {
  const journal = openTestJournal('ferry-follow-');
  journal.append('run-started', { run: 'r-1' });
  const seen: JournalRecord[] = [];
  const stop = new AbortController();
  const following = followJournal(journal.path, (record) => seen.push(record), { signal: stop.signal, pollMs: 50 });
  await until(() => seen.length === 1);
  // A record with characters of several bytes, appended while the follower reads.
  for (let i = 0; i < 50; i++) journal.append('stage-started', { slice: `s-${i}`, note: 'é→✓'.repeat(i) });
  await until(() => seen.length === 51);
  assert.deepEqual(seen.map((record) => record.seq), Array.from({ length: 51 }, (_, i) => i + 1));
  assert.equal((seen[50]!.data as { note: string }).note, 'é→✓'.repeat(49));
  stop.abort();
  await following;
  await journal.close();
});

test('half a line is held back until its newline arrives; fromSeq skips what was seen', async () => {
  const journal = openTestJournal('ferry-follow-');
  journal.append('run-started', { run: 'r-1' });
  journal.append('stage-started', { slice: 'a' });
  await journal.close();
  const seen: JournalRecord[] = [];
  const stop = new AbortController();
  const following = followJournal(journal.path, (record) => seen.push(record), { signal: stop.signal, fromSeq: 1, pollMs: 50 });
  await until(() => seen.length === 1);
  assert.equal(seen[0]!.seq, 2);
  const line = JSON.stringify({ ...seen[0], seq: 3 });
  appendFileSync(journal.path, line.slice(0, 20));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(seen.length, 1, 'a torn line is not a record');
  appendFileSync(journal.path, `${line.slice(20)}\n`);
  await until(() => seen.length === 2);
  assert.equal(seen[1]!.seq, 3);
  stop.abort();
  await following;
});

test('subscribers hear each durable append once; one that throws does not stop the run or the others', async () => {
  const journal = openTestJournal('ferry-follow-');
  const heard: string[] = [];
  journal.subscribe(() => {
    throw new Error('a broken watcher');
  });
  const unsubscribe = journal.subscribe((record) => heard.push(record.type));
  journal.append('run-started', { run: 'r-1' });
  journal.append('weight-set', { slice: 'a', weight: 10 });
  unsubscribe();
  journal.append('weight-set', { slice: 'a', weight: 50 });
  assert.deepEqual(heard, ['run-started', 'weight-set']);
  assert.equal(journal.records.length, 3);
  await journal.close();
});
