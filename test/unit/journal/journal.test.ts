import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { Journal, readJournal } from '../../../src/journal/journal.js';
import { FileKeyStore } from '../../../src/journal/keys/file.js';
import { GENESIS, hashRecord, type JournalRecord } from '../../../src/journal/record.js';
import { testJournalFiles, type TestJournalFiles } from '../../helpers/journal.js';

/** A journal in a run directory of its own, with its own key file and anchors (never the user's). */
function fresh(run = 'shop-20261130-041900'): TestJournalFiles {
  return testJournalFiles('ferry-journal-', run);
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').trim().split('\n');
}

/** What someone without the key can do: change records and recompute every hash after them. */
function rechain(path: string, edit: (records: JournalRecord[]) => JournalRecord[]): void {
  const records = edit(lines(path).map((line) => JSON.parse(line) as JournalRecord));
  let prev = GENESIS;
  const out = records.map((record, i) => {
    const { hash: _hash, ...body } = { ...record, seq: i + 1, prev };
    const rechained = { ...body, hash: hashRecord(body) };
    prev = rechained.hash;
    return JSON.stringify(rechained);
  });
  writeFileSync(path, out.length ? `${out.join('\n')}\n` : '');
}

function write(count: number, run?: string) {
  const journal = fresh(run);
  const open = Journal.open(journal.path, journal.stores);
  for (let i = 0; i < count; i++) open.append('step', { i });
  void open.close();
  return journal;
}

test('records chain by hash, carry MACs, and survive reopening', () => {
  const { path, stores } = fresh();
  const journal = Journal.open(path, stores);
  journal.append('run-started', { plan: 'shop' });
  journal.append('step', { slice: 'web', weight: 10 });
  void journal.close();
  const again = Journal.open(path, stores);
  assert.equal(again.records.length, 2);
  const third = again.append('step', { slice: 'web', weight: 50 });
  assert.equal(third.seq, 3);
  assert.equal(third.prev, again.records[1]!.hash);
  assert.match(third.mac!, /^[0-9a-f]{64}$/);
  const { verify } = readJournal(path, stores);
  assert.equal(verify.ok, true, JSON.stringify(verify));
  assert.deepEqual([verify.records, verify.lastHash, verify.keyed, verify.anchor?.count, verify.unanchored], [3, third.hash, true, 3, 0]);
});

test('editing, deleting or reordering any record is detected at that record', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 12 }), fc.nat(), fc.constantFrom('edit', 'delete', 'swap'), (count, pick, tamper) => {
      const { path, stores } = write(count);
      const all = lines(path);
      const at = pick % (count - 1);
      if (tamper === 'edit') all[at] = all[at]!.replace(`"i":${at}`, `"i":${at + 100}`);
      if (tamper === 'delete') all.splice(at, 1);
      if (tamper === 'swap') [all[at], all[at + 1]] = [all[at + 1]!, all[at]!];
      writeFileSync(path, `${all.join('\n')}\n`);
      const { verify } = readJournal(path, stores);
      assert.equal(verify.ok, false);
      assert.equal(verify.brokenAt!.line, at + 1);
      assert.throws(() => Journal.open(path, stores), /journal is not intact/);
    }),
    { numRuns: 40 },
  );
});

test('an edit, removal or reordering with the hash chain recomputed is caught by the MACs, at the first record changed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 10 }), fc.nat(), fc.constantFrom('edit', 'delete', 'swap'), (count, pick, tamper) => {
      const { path, stores } = write(count);
      const at = pick % (count - 1);
      rechain(path, (records) => {
        if (tamper === 'edit') records[at] = { ...records[at]!, data: { i: at + 100 } };
        if (tamper === 'delete') records.splice(at, 1);
        if (tamper === 'swap') [records[at], records[at + 1]] = [records[at + 1]!, records[at]!];
        return records;
      });
      const { verify } = readJournal(path, stores);
      assert.equal(verify.ok, false, `${tamper} of record ${at + 1} not caught`);
      assert.deepEqual([verify.brokenAt!.seq, verify.brokenAt!.line], [at + 1, at + 1]);
      assert.match(verify.brokenAt!.reason, /MAC does not match|has no journal id/);
      assert.throws(() => Journal.open(path, stores), new RegExp(`journal is not intact at record ${at + 1}`));
    }),
    { numRuns: 40 },
  );
});

test('removing the last records is caught by the anchored head, naming the first one missing', () => {
  for (const cut of [1, 2, 5]) {
    const { path, stores } = write(5);
    writeFileSync(path, lines(path).slice(0, 5 - cut).map((line) => `${line}\n`).join(''));
    const { verify } = readJournal(path, stores);
    assert.equal(verify.ok, false);
    assert.deepEqual([verify.brokenAt!.seq, verify.brokenAt!.line], [6 - cut, 6 - cut]);
    assert.match(verify.brokenAt!.reason, /^missing: the anchored head .* says the journal had 5 records.*; the file ends after record \d/);
    assert.throws(() => Journal.open(path, stores), new RegExp(`not intact at record ${6 - cut}: missing`));
  }
});

test('stripping every MAC (to pass as an old, unkeyed journal) is caught through the anchor', () => {
  const { path, stores } = write(4);
  rechain(path, (records) => records.map(({ mac: _mac, kid: _kid, jid: _jid, ...rest }) => rest as JournalRecord));
  const { verify } = readJournal(path, stores);
  assert.equal(verify.ok, false);
  assert.equal(verify.brokenAt!.seq, 1);
});

test('stripping the MAC of the last records only is caught at the first stripped', () => {
  const { path, stores } = write(4);
  rechain(path, (records) => records.map((record, i) => (i < 2 ? record : ({ ...record, mac: undefined, kid: undefined }))));
  const { verify } = readJournal(path, stores);
  assert.deepEqual([verify.ok, verify.brokenAt?.seq], [false, 3]);
  assert.match(verify.brokenAt!.reason, /has no MAC, though the records before it have/);
});

test('a forged anchor (count lowered to hide a cut) does not verify without the key', () => {
  const { path, stores, dir } = write(4);
  writeFileSync(path, lines(path).slice(0, 2).map((line) => `${line}\n`).join(''));
  const anchorDir = join(dir, 'config', 'anchors', 'shop-20261130-041900');
  const file = join(anchorDir, `${readJournal(path, stores).verify.jid}.json`);
  const head = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...head, count: 2, lastHash: JSON.parse(lines(path)[1]!).hash }));
  const { verify } = readJournal(path, stores);
  assert.equal(verify.ok, false);
  assert.match(verify.problem!, /is not signed with the key/);
});

test('a journal checked with another key says so; without any key it is not vouched for', () => {
  const { path, stores, dir } = write(3);
  const other = new FileKeyStore(join(dir, 'other.key'));
  other.obtainSync();
  const wrong = readJournal(path, { ...stores, keys: other });
  assert.equal(wrong.verify.ok, false);
  assert.match(wrong.verify.brokenAt!.reason, /^was signed with key [0-9a-f]{16}, not with the key from .*other\.key/);
  const none = readJournal(path, { ...stores, keys: new FileKeyStore(join(dir, 'absent.key')) });
  assert.equal(none.verify.ok, false);
  assert.match(none.verify.problem!, /carry MACs but there is no key at .*absent\.key/);
});

test('an old journal without MACs is readable and said unkeyed; resuming it seals it with MACs from there on', () => {
  const { path, stores } = fresh();
  // As Ferry wrote journals before keys: plain hash chain.
  let prev = GENESIS;
  const old = ['run-started', 'stage-started'].map((type, i) => {
    const body = { seq: i + 1, at: '2026-11-29T10:00:00.000Z', type, actor: 'ferry', data: { i }, prev };
    prev = hashRecord(body);
    return JSON.stringify({ ...body, hash: prev });
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${old.join('\n')}\n`);
  const before = readJournal(path, stores).verify;
  assert.deepEqual([before.ok, before.keyed, before.records, before.unkeyedRecords], [true, false, 2, 2]);
  const resumed = Journal.open(path, stores);
  resumed.append('run-resumed', {});
  void resumed.close();
  const after = readJournal(path, stores).verify;
  assert.deepEqual([after.ok, after.keyed, after.records, after.unkeyedRecords], [true, true, 3, 2]);
  // The unkeyed prefix is sealed: editing it now breaks the first keyed record's MAC.
  rechain(path, (records) => [{ ...records[0]!, data: { i: 7 } }, ...records.slice(1)]);
  assert.equal(readJournal(path, stores).verify.brokenAt?.seq, 3);
});

test('a torn last line from a crash mid-write is dropped on open; the run continues from the last whole record', () => {
  const { path, stores } = write(2);
  appendFileSync(path, '{"seq":3,"at":"2026-11-2');
  assert.equal(readJournal(path, stores).verify.ok, true, 'a crash is not tampering');
  const reopened = Journal.open(path, stores);
  assert.equal(reopened.records.length, 2);
  reopened.append('c', {});
  assert.equal(readJournal(path, stores).verify.ok, true);
});

test('two runs with the same id in different state directories anchor apart', () => {
  const a = fresh('same-20261130-041900');
  const b = { ...fresh('same-20261130-041900'), stores: a.stores };
  const ja = Journal.open(a.path, a.stores);
  const jb = Journal.open(b.path, b.stores);
  for (let i = 0; i < 3; i++) ja.append('a', { i });
  jb.append('b', {});
  assert.equal(readJournal(a.path, a.stores).verify.ok, true);
  assert.equal(readJournal(b.path, b.stores).verify.ok, true);
  assert.notEqual(ja.jid, jb.jid);
});

test('secrets cannot enter the journal; passwords in connection strings are redacted', () => {
  const { path, stores } = fresh();
  const journal = Journal.open(path, stores);
  assert.throws(() => journal.append('oops', { password: 'hunter2' }), /refusing to journal a secret-like field data\.password/);
  const record = journal.append('data-sync', { source: 'postgres://app:s3cr3t@db:5432/shop' });
  assert.equal(record.data.source, 'postgres://app:***@db:5432/shop');
  // Without a user, and as a key=value string: the same masking as every data error path.
  const other = journal.append('data-sync', { target: 'postgresql://:t0ps3cret@db/shop', dsn: 'host=db password=kv-s3cret dbname=shop' });
  assert.equal(other.data.target, 'postgresql://:***@db/shop');
  assert.ok(!String(other.data.dsn).includes('kv-s3cret'));
  assert.ok(!readFileSync(journal.path, 'utf8').includes('s3cr3t'));
  assert.ok(!readFileSync(journal.path, 'utf8').includes('hunter2'));
});
