import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOUTIQUE, ferryAsync, type CliResult } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { Journal } from '../../../src/journal/journal.js';
import { GENESIS, hashRecord, type JournalRecord } from '../../../src/journal/record.js';
import { openRunJournal } from '../../../src/journal/trust.js';
import { anchorObjectName } from '../../../src/journal/anchors/kubernetes.js';
import { parsePlan } from '../../../src/plan/load.js';
import type { MigrationPlan } from '../../../src/plan/schema.js';
import { createRun, type RunFiles } from '../../../src/run/store.js';
import { defaultJournalStores } from '../../../src/journal/defaults.js';

let lab: TestLab;
let plan: MigrationPlan;
before(async () => {
  lab = await startTestLab(['target']);
  const planned = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '--name', 'ledger', '-o', 'json']);
  plan = parsePlan(planned.stdout, 'plan.json').plan;
});
after(async () => {
  await lab?.stop();
});

/** A run directory of its own, with the key file and anchors of this test only (FERRY_JOURNAL_KEY_FILE). */
function newRun(): { files: RunFiles; stateDir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-journal-it-'));
  const stateDir = join(dir, 'state');
  return { files: createRun(stateDir, plan), stateDir, env: { FERRY_JOURNAL_KEY_FILE: join(dir, 'config', 'journal.key') } };
}

const cli = (run: { stateDir: string; env: Record<string, string> }, args: string[]): Promise<CliResult> =>
  ferryAsync([...args, '--state-dir', run.stateDir, '--kubeconfig', lab.kubeconfigFile], { env: run.env });

function writeRecords(journal: Journal, count: number): void {
  journal.append('run-started', { plan: plan.metadata.name, run: 'x' });
  for (let i = 1; i < count; i++) journal.append('stage-started', { slice: 'frontend', stage: i % 2 ? 'apply' : 'ramp' });
}

/** What someone with the run directory but not the key can do: change a record and recompute every hash. */
function rechain(path: string, edit: (records: JournalRecord[]) => void): void {
  const records = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as JournalRecord);
  edit(records);
  let prev = GENESIS;
  writeFileSync(path, records.map((record, i) => {
    const { hash: _hash, ...body } = { ...record, seq: i + 1, prev };
    prev = hashRecord(body);
    return `${JSON.stringify({ ...body, hash: prev })}\n`;
  }).join(''));
}

function dropLastLine(path: string): void {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  writeFileSync(path, `${lines.slice(0, -1).join('\n')}\n`);
}

test('a record edited with its hash chain recomputed: audit verify and status name it and exit 1; resume refuses', async () => {
  const run = newRun();
  const journal = Journal.open(run.files.journal, defaultJournalStores({ ...process.env, ...run.env }));
  writeRecords(journal, 6);
  await journal.close();
  assert.equal((await cli(run, ['audit', 'verify', run.files.id])).code, 0);

  rechain(run.files.journal, (records) => (records[2]!.data = { slice: 'frontend', stage: 'decommission' }));
  const verified = await cli(run, ['audit', 'verify', run.files.id]);
  assert.equal(verified.code, 1, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /BROKEN at record 3 \(.*journal\.jsonl:3\): its MAC does not match/);

  const status = await cli(run, ['status', run.files.id]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /^TAMPERED: the journal was changed at record 3 \(.*journal\.jsonl:3\)/);
  assert.match(status.stdout, /run ledger-/, 'the state is still shown');
  const json = await cli(run, ['status', run.files.id, '-o', 'json']);
  assert.equal(json.code, 1);
  assert.deepEqual([JSON.parse(json.stdout).journal.ok, JSON.parse(json.stdout).journal.brokenAt.seq], [false, 3]);
  assert.match(json.stderr, /TAMPERED/);

  assert.throws(() => Journal.open(run.files.journal, defaultJournalStores({ ...process.env, ...run.env })), /journal is not intact at record 3: its MAC does not match/);
  const resumed = await cli(run, ['resume', run.files.id]);
  assert.equal(resumed.code, 1);
  assert.match(resumed.stderr, /journal\.jsonl:3: journal is not intact at record 3: its MAC does not match/);
});

test('the last record removed: audit verify and status see the anchored head and exit 1', async () => {
  const run = newRun();
  const journal = Journal.open(run.files.journal, defaultJournalStores({ ...process.env, ...run.env }));
  writeRecords(journal, 5);
  await journal.close();
  dropLastLine(run.files.journal);
  const verified = await cli(run, ['audit', 'verify', run.files.id]);
  assert.equal(verified.code, 1);
  assert.match(verified.stdout, /BROKEN at record 5 \(.*journal\.jsonl:5\): missing: the anchored head .* says the journal had 5 records/);
  const status = await cli(run, ['status', run.files.id, '-o', 'json']);
  assert.equal(status.code, 1);
  assert.equal(JSON.parse(status.stdout).journal.brokenAt.seq, 5);
  const resumed = await cli(run, ['resume', run.files.id]);
  assert.equal(resumed.code, 1);
  assert.match(resumed.stderr, /journal is not intact at record 5: missing/);
  const all = await cli(run, ['status', '--all']);
  assert.equal(all.code, 1);
  assert.match(all.stdout, /TAMPERED/);
});

test('key in a Secret and head in a ConfigMap on the target cluster: created when missing, read back by kubectl, tampering caught', async (t) => {
  const run = newRun();
  const trust = { keySecret: true as const };
  const journal = await openRunJournal(run.files.journal, { runId: run.files.id, plan, trust, kubeconfig: lab.kubeconfigFile });
  const count = 200;
  const started = performance.now();
  writeRecords(journal, count);
  const appendMs = performance.now() - started;
  await journal.flush();
  const totalMs = performance.now() - started;
  const writes = journal.anchorWrites;
  await journal.close();
  t.diagnostic(`kubernetes anchor: ${count} records appended in ${appendMs.toFixed(0)} ms (${(appendMs / count).toFixed(2)} ms/record), anchored ${totalMs.toFixed(0)} ms after the first, ${writes} ConfigMap writes`);

  // A run's records come one at a time: the round trip of one anchored record.
  const paced = await openRunJournal(join(run.files.dir, 'paced.jsonl'), { runId: `${run.files.id}-paced`, plan, trust, kubeconfig: lab.kubeconfigFile });
  const pacedStart = performance.now();
  for (let i = 0; i < 20; i++) {
    paced.append('stage-started', { i });
    await paced.flush();
  }
  t.diagnostic(`kubernetes anchor, each record awaited: ${((performance.now() - pacedStart) / 20).toFixed(2)} ms/record`);
  await paced.close();

  const secret = JSON.parse((await lab.kubectl(['get', 'secret', '-n', 'ferry-system', 'ferry-journal-key', '-o', 'json'])).stdout);
  const keyText = Buffer.from(secret.data.key, 'base64').toString();
  assert.equal(Buffer.from(keyText.trim(), 'base64').length, 32);
  const configMap = JSON.parse((await lab.kubectl(['get', 'configmap', '-n', 'ferry-system', anchorObjectName(run.files.id), '-o', 'json'])).stdout);
  const heads = Object.values(configMap.data as Record<string, string>).map((text) => JSON.parse(text));
  assert.equal(heads.length, 1);
  assert.equal(heads[0].count, count);
  assert.equal(heads[0].lastHash, journal.records.at(-1)!.hash);

  const flags = ['--journal-key-secret'];
  const intact = await cli(run, ['audit', 'verify', run.files.id, ...flags]);
  assert.equal(intact.code, 0, intact.stdout + intact.stderr);
  assert.match(intact.stdout, /intact: 200 records, MACs checked with key [0-9a-f]{16} \(Secret ferry-system\/ferry-journal-key on cluster "target"\); head anchored in ConfigMap ferry-system\/ferry-journal-<run> on cluster "target" at record 200/);
  // Without the Secret's key, a keyed journal cannot be vouched for.
  const fileKey = await cli(run, ['audit', 'verify', run.files.id]);
  assert.equal(fileKey.code, 1);
  assert.match(fileKey.stdout, /UNVERIFIED: the records carry MACs but there is no key at .*journal\.key/);

  dropLastLine(run.files.journal);
  const outputs: CliResult[] = [];
  const cut = await cli(run, ['audit', 'verify', run.files.id, ...flags]);
  outputs.push(cut);
  assert.equal(cut.code, 1);
  assert.match(cut.stdout, /BROKEN at record 200 .*missing: the anchored head \(ConfigMap ferry-system\/ferry-journal-<run> on cluster "target", .*\) says the journal had 200 records/);
  const status = await cli(run, ['status', run.files.id, ...flags]);
  outputs.push(status, await cli(run, ['status', run.files.id, ...flags, '-o', 'json', '--debug']), await cli(run, ['audit', 'verify', run.files.id, ...flags, '-o', 'json', '--debug']));
  assert.equal(status.code, 1);
  assert.match(status.stdout, /^TAMPERED: the journal was changed at record 200/);
  await assert.rejects(openRunJournal(run.files.journal, { runId: run.files.id, plan, trust, kubeconfig: lab.kubeconfigFile }), /journal is not intact at record 200: missing/);

  // The key is never printed: not by any command here, not in the journal.
  for (const output of [...outputs, { stdout: readFileSync(run.files.journal, 'utf8'), stderr: '' }]) {
    for (const form of [keyText.trim(), secret.data.key]) {
      assert.ok(!output.stdout.includes(form) && !output.stderr.includes(form), 'the journal key appeared in output');
    }
  }
});

test('cost per record: file anchor (fsync, in append) beside the Kubernetes anchor (asynchronous, coalesced)', async (t) => {
  const run = newRun();
  const journal = Journal.open(run.files.journal, defaultJournalStores({ ...process.env, ...run.env }));
  const count = 200;
  const started = performance.now();
  writeRecords(journal, count);
  const ms = performance.now() - started;
  await journal.close();
  t.diagnostic(`file anchor: ${count} records in ${ms.toFixed(0)} ms (${(ms / count).toFixed(2)} ms/record), ${journal.anchorWrites} anchor writes`);
  assert.equal((await cli(run, ['audit', 'verify', run.files.id])).code, 0);
});
