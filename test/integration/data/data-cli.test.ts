/**
 * `ferry data …` as a user runs it, on small real databases: preconditions with their fixes,
 * schema differences, and a full sync → parity → cutover → failback → teardown cycle. No
 * output may contain a password.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sql } from '../../helpers/pg.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { REPO } from '../../helpers/cli.js';

let source: LocalPostgres;
let target: LocalPostgres;
let misconfigured: LocalPostgres;

/** Runs the real CLI without blocking the event loop. */
function ferry(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${REPO}/bin/ferry.js`, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function assertNoPassword(out: { stdout: string; stderr: string }): void {
  for (const server of [source, target, misconfigured]) {
    assert.ok(!out.stdout.includes(server.password) && !out.stderr.includes(server.password), 'a password was printed');
  }
}

before(async () => {
  [source, target, misconfigured] = await Promise.all([
    startLocalPostgres({ name: 'ferry-cli-src' }),
    startLocalPostgres({ name: 'ferry-cli-tgt' }),
    startLocalPostgres({ name: 'ferry-cli-bad', settings: { wal_level: 'replica' } }),
  ]);
  await sql(
    source.connectionString,
    `create table public.customers (id serial primary key, email text not null unique, created_at timestamptz not null default now());
     create table public.events (customer_id int references public.customers, at timestamptz, kind text, primary key (customer_id, at));
     insert into public.customers (email) select 'c' || g || '@example.com' from generate_series(1, 5000) g;
     insert into public.events select 1 + g % 5000, timestamptz '2025-01-01' + g * interval '1 minute', 'view' from generate_series(1, 20000) g;`,
  );
  await sql(misconfigured.connectionString, `create table public.logs (at timestamptz, line text)`);
});

after(async () => {
  await Promise.all([source?.stop(), target?.stop(), misconfigured?.stop()]);
});

test('check names every failed precondition with its fix, and prints no password', async () => {
  const out = await ferry(['data', 'check', '--source', misconfigured.connectionString, '--target', target.connectionString, '-o', 'json']);
  assertNoPassword(out);
  assert.equal(out.code, 1);
  const report = JSON.parse(out.stdout) as { ok: boolean; items: Array<{ id: string; ok: boolean; message: string; fix?: string }> };
  const failed = new Map(report.items.filter((i) => !i.ok).map((i) => [i.id, i]));
  assert.match(failed.get('source.wal_level')!.fix!, /wal_level = logical/);
  assert.match(failed.get('source.key.public.logs')!.message, /no primary key or replica identity/);
  assert.match(failed.get('source.key.public.logs')!.fix!, /ADD PRIMARY KEY/);

  const text = await ferry(['data', 'check'], { FERRY_SOURCE_URL: misconfigured.connectionString, FERRY_TARGET_URL: target.connectionString });
  assertNoPassword(text);
  assert.match(text.stdout, /source\.wal_level\s+FAIL/);

  const unreachable = await ferry(['data', 'check', '--source', source.connectionString.replace(/:\d+\//, ':1/'), '--target', target.connectionString]);
  assertNoPassword(unreachable);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /source database \(postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres\)/);
});

test('sync, parity, cutover, failback and teardown from the command line', async () => {
  const env = { FERRY_SOURCE_URL: source.connectionString, FERRY_TARGET_URL: target.connectionString };
  const sync = await ferry(['data', 'sync', '--name', 'cli', '--copy-schema', '--wait', '-o', 'json'], env);
  assertNoPassword(sync);
  assert.equal(sync.code, 0, sync.stderr);
  const status = JSON.parse(sync.stdout);
  assert.equal(status.allReady, true);
  assert.ok(status.lag.seconds < 1);

  const schema = await ferry(['data', 'schema', '--name', 'cli'], env);
  assert.equal(schema.code, 0, schema.stdout);
  assert.match(schema.stdout, /schemas match \(2 tables\)/);

  await sql(target.connectionString, `set session_replication_role = replica; delete from public.events where customer_id = 42 and at = timestamptz '2025-01-01' + 41 * interval '1 minute'; insert into public.customers (id, email) values (900001, 'ghost@example.com')`);
  const parity = await ferry(['data', 'parity', '--name', 'cli', '-o', 'json'], env);
  assertNoPassword(parity);
  assert.equal(parity.code, 1);
  const report = JSON.parse(parity.stdout);
  assert.deepEqual(
    report.differences.map((d: { table: string; key: string[]; kind: string }) => `${d.kind} ${d.table} ${d.key.join(',')}`).sort(),
    ['extra public.customers 900001', 'missing public.events 42,2025-01-01 00:41:00+00'],
  );
  await sql(target.connectionString, `set session_replication_role = replica; insert into public.events values (42, timestamptz '2025-01-01' + 41 * interval '1 minute', 'view'); delete from public.customers where id = 900001`);

  // The target refuses application writes until cutover.
  await assert.rejects(sql(target.connectionString, `insert into public.customers (email) values ('early@example.com')`), /writes to public\.customers are closed/);

  const cutover = await ferry(['data', 'cutover', '--name', 'cli'], env);
  assertNoPassword(cutover);
  assert.equal(cutover.code, 0, cutover.stderr);
  assert.match(cutover.stdout, /writes moved source → target; write pause \d+ ms/);
  assert.match(cutover.stdout, /final parity OK/);
  // Sequences came along: a new row on the target takes the next id, not a used one.
  const inserted = await sql(target.connectionString, `insert into public.customers (email) values ('new@example.com') returning id`);
  assert.equal(inserted.rows[0].id, 5001);
  await assert.rejects(sql(source.connectionString, `insert into public.customers (email) values ('late@example.com')`), /closed on this database/);

  const again = await ferry(['data', 'cutover', '--name', 'cli'], env);
  assert.match(again.stdout, /already done/);

  const failback = await ferry(['data', 'failback', '--name', 'cli', '-o', 'json'], env);
  assert.equal(failback.code, 0, failback.stderr);
  assert.ok(JSON.parse(failback.stdout).writePauseMs < 1000);
  const back = await sql(source.connectionString, `select email from public.customers where id = 5001`);
  assert.equal(back.rows[0].email, 'new@example.com');

  const teardown = await ferry(['data', 'teardown', '--name', 'cli'], env);
  assert.equal(teardown.code, 0, teardown.stdout);
  assert.match(teardown.stdout, /no replication objects left/);
  for (const server of [source, target]) assert.equal((await sql(server.connectionString, 'select * from pg_replication_slots')).rowCount, 0);
});
