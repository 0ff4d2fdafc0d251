import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Journal, readJournal } from '../../../src/journal/journal.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'ferry-journal-')), 'journal.jsonl');

test('records chain by hash and survive reopening', () => {
  const path = fresh();
  const journal = Journal.open(path);
  journal.append('run-started', { plan: 'shop' });
  journal.append('step', { slice: 'web', weight: 10 });
  journal.close();
  const again = Journal.open(path);
  assert.equal(again.records.length, 2);
  const third = again.append('step', { slice: 'web', weight: 50 });
  assert.equal(third.seq, 3);
  assert.equal(third.prev, again.records[1]!.hash);
  assert.deepEqual(readJournal(path).verify, { ok: true, records: 3, lastHash: third.hash });
});

test('editing, deleting or reordering any record is detected at that record', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 12 }), fc.nat(), fc.constantFrom('edit', 'delete', 'swap'), (count, pick, tamper) => {
      const path = fresh();
      const journal = Journal.open(path);
      for (let i = 0; i < count; i++) journal.append('step', { i });
      journal.close();
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      const at = pick % (count - 1);
      if (tamper === 'edit') lines[at] = lines[at]!.replace(`"i":${at}`, `"i":${at + 100}`);
      if (tamper === 'delete') lines.splice(at, 1);
      if (tamper === 'swap') [lines[at], lines[at + 1]] = [lines[at + 1]!, lines[at]!];
      writeFileSync(path, `${lines.join('\n')}\n`);
      const { verify } = readJournal(path);
      assert.equal(verify.ok, false);
      assert.equal(verify.brokenAt!.line, at + 1);
      assert.throws(() => Journal.open(path), /journal is not intact/);
    }),
    { numRuns: 60 },
  );
});

test('a torn last line from a crash mid-write is dropped on open; the run continues from the last whole record', () => {
  const path = fresh();
  const journal = Journal.open(path);
  journal.append('a', {});
  journal.append('b', {});
  journal.close();
  appendFileSync(path, '{"seq":3,"at":"2026-11-2');
  const reopened = Journal.open(path);
  assert.equal(reopened.records.length, 2);
  reopened.append('c', {});
  assert.equal(readJournal(path).verify.ok, true);
});

test('secrets cannot enter the journal; passwords in connection strings are redacted', () => {
  const journal = Journal.open(fresh());
  assert.throws(() => journal.append('oops', { password: 'hunter2' }), /refusing to journal a secret-like field data\.password/);
  const record = journal.append('data-sync', { source: 'postgres://app:s3cr3t@db:5432/shop' });
  assert.equal(record.data.source, 'postgres://app:<redacted>@db:5432/shop');
  assert.ok(!readFileSync(journal.path, 'utf8').includes('s3cr3t'));
  assert.ok(!readFileSync(journal.path, 'utf8').includes('hunter2'));
});
