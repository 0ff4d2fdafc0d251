/**
 * Source and target as two databases of ONE PostgreSQL server (issue #19, item 8). CREATE
 * SUBSCRIPTION that creates its slot on its own cluster waits for its own transaction for
 * ever; `ferry data sync` hung there after `ferry data check` said OK, leaving a slot behind.
 * Now check says it is one server, every slot is created before its subscription (the
 * two-step way PostgreSQL documents), and sync → parity → cutover → failback → teardown
 * complete with no slot left; a cutover that fails (unreachable reverse URL) fails fast,
 * keeps replication running the old way and leaves no slot of the new direction. Every
 * command runs under a deadline: a hang fails the test instead of stalling it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sql } from '../../helpers/pg.js';
import { REPO } from '../../helpers/cli.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';

let server: LocalPostgres;
let a: string;
let b: string;

function ferry(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${REPO}/bin/ferry.js`, ...args], { env: { ...process.env, NO_COLOR: '1' }, cwd: REPO });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n[killed: still running after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - start });
    });
  });
}

const slots = async () => (await sql(server.connectionString, `select slot_name from pg_replication_slots order by 1`)).rows.map((r) => r.slot_name as string);

before(async () => {
  server = await startLocalPostgres({ name: 'ferry-same-server' });
  await sql(server.connectionString, 'create database shop_old');
  await sql(server.connectionString, 'create database shop_new');
  a = server.connectionString.replace(/\/postgres$/, '/shop_old');
  b = server.connectionString.replace(/\/postgres$/, '/shop_new');
  await sql(a, `create table public.orders (id bigserial primary key, item text not null, qty int not null);
                insert into public.orders (item, qty) select 'item' || g, g % 7 from generate_series(1, 3000) g`);
});

after(async () => {
  // Whatever a failed run left, the server goes with its directory.
  await server?.stop();
});

test('check says source and target share a server; one database cannot be moved into itself', async () => {
  const check = await ferry(['data', 'check', '--source', a, '--target', b, '-o', 'json']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const item = (JSON.parse(check.stdout) as { items: Array<{ id: string; ok: boolean; severity: string; message: string }> }).items.find((i) => i.id === 'servers')!;
  assert.equal(item.ok, true);
  assert.equal(item.severity, 'warning');
  assert.match(item.message, /databases of the same server .*creates each replication slot before its subscription/);

  const itself = await ferry(['data', 'check', '--source', a, '--target', a]);
  assert.equal(itself.code, 1);
  assert.match(itself.stdout, /servers\s+FAIL\s+source and target are the same database/);
});

test('sync, parity, cutover, failback and teardown between two databases of one server, no slot left', async () => {
  const env = ['--name', 'same', '--source', a, '--target', b];
  const sync = await ferry(['data', 'sync', ...env, '--copy-schema', '--wait', '--timeout', '45', '-o', 'json']);
  assert.equal(sync.code, 0, sync.stderr);
  assert.equal(JSON.parse(sync.stdout).allReady, true);

  await sql(a, `insert into public.orders (item, qty) values ('live', 1)`);
  const parity = await ferry(['data', 'parity', ...env]);
  assert.equal(parity.code, 0, parity.stdout + parity.stderr);

  // A cutover whose reverse URL cannot be reached fails fast and puts replication back as it was.
  const bad = await ferry(['data', 'cutover', ...env, '--target-replication-url', `${b.replace(/:\d+\//, ':1/')}`]);
  assert.equal(bad.code, 1, bad.stdout);
  assert.ok(bad.ms < 30_000, `failed in ${bad.ms} ms`);
  assert.match(bad.stderr, /could not connect to the publisher/);
  assert.deepEqual(await slots(), ['ferry_same_s2t'], 'no slot of the direction that failed to start');
  await sql(a, `insert into public.orders (item, qty) values ('after the failed cutover', 2)`);

  const cutover = await ferry(['data', 'cutover', ...env]);
  assert.equal(cutover.code, 0, cutover.stderr);
  assert.match(cutover.stdout, /writes moved source → target/);
  assert.match(cutover.stdout, /final parity OK/);
  assert.equal((await sql(b, `select count(*)::int as n from public.orders where item = 'after the failed cutover'`)).rows[0].n, 1);
  const written = await sql(b, `insert into public.orders (item, qty) values ('on the new side', 3) returning id`);
  assert.deepEqual(await slots(), ['ferry_same_t2s']);

  const failback = await ferry(['data', 'failback', ...env]);
  assert.equal(failback.code, 0, failback.stderr);
  assert.equal((await sql(a, `select item from public.orders where id = ${written.rows[0].id}`)).rows[0].item, 'on the new side');

  const teardown = await ferry(['data', 'teardown', ...env]);
  assert.equal(teardown.code, 0, teardown.stdout + teardown.stderr);
  assert.match(teardown.stdout, /no replication objects left/);
  assert.deepEqual(await slots(), []);
  process.stdout.write(`# one server: sync ${sync.ms} ms, failed cutover ${bad.ms} ms, cutover ${cutover.ms} ms (${/write pause (\d+) ms/.exec(cutover.stdout)?.[1]} ms pause), failback ${failback.ms} ms\n`);
});
