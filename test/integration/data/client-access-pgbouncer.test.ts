/**
 * Applications follow their database through a real PgBouncer (data.clientAccess of type
 * pgbouncer, transaction pooling): Ferry rewrites the database's entry, RELOADs and
 * RECONNECTs inside the cutover's write pause. An application connected to PgBouncer keeps
 * writing through cutover and failback: 0 failed, 0 lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';
import { createClientAccess, type DatabaseClientAccess } from '../../../src/data/client-access/index.js';
import type { SwitchoverReport } from '../../../src/data/provider.js';
import { sql } from '../../helpers/pg.js';
import { RetryingWriter } from './retrying-writer.js';

const APP_PASSWORD = randomBytes(12).toString('hex');
const ADMIN_PASSWORD = randomBytes(12).toString('hex');
const hasPgbouncer = spawnSync('sh', ['-c', 'command -v pgbouncer']).status === 0;

let source: LocalPostgres;
let target: LocalPostgres;
let data: PostgresDataProvider;
let bouncer: ChildProcess | undefined;
let dir: string;
let port: number;
let access: DatabaseClientAccess;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** PgBouncer refuses to run as root: run it as the postgres system user then, as the servers run. */
function postgresIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'))!;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

before(async () => {
  if (!hasPgbouncer) return;
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-pgb-src' }), startLocalPostgres({ name: 'ferry-pgb-tgt' })]);
  for (const db of [source, target]) await sql(db.connectionString, `create role app login password '${APP_PASSWORD}'; grant all on schema public to app`);
  await sql(
    source.connectionString,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
     insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, 20000) g;
     grant all on public.orders to app; grant all on sequence public.orders_id_seq to app;`,
  );
  data = new PostgresDataProvider({ name: 'pgb', source: { url: source.connectionString }, target: { url: target.connectionString } });
  await data.prepare({ copySchema: true });
  await sql(target.connectionString, 'grant all on public.orders to app; grant all on sequence public.orders_id_seq to app');
  await data.startSync();
  await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 60_000 });

  dir = mkdtempSync(join(tmpdir(), 'ferry-pgbouncer-'));
  port = await freePort();
  writeFileSync(join(dir, 'databases.ini'), `[databases]\nshop = host=127.0.0.1 port=${source.port} dbname=${source.database}\n`);
  writeFileSync(join(dir, 'userlist.txt'), `"app" "${APP_PASSWORD}"\n"ferry" "${ADMIN_PASSWORD}"\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = md5',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'admin_users = ferry',
      'pool_mode = transaction',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `%include ${join(dir, 'databases.ini')}`,
      '',
    ].join('\n'),
  );
  const ids = postgresIds();
  if (ids.uid !== undefined) for (const file of ['', 'databases.ini', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, file), ids.uid, ids.gid!);
  bouncer = spawn('pgbouncer', [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'], ...ids });
  access = createClientAccess(
    { type: 'pgbouncer', adminAddress: `127.0.0.1:${port}`, adminUser: 'ferry', database: 'shop', databasesFile: join(dir, 'databases.ini'), sourceConnect: `host=127.0.0.1 port=${source.port} dbname=${source.database}`, targetConnect: `host=127.0.0.1 port=${target.port} dbname=${target.database}` },
    { env: { FERRY_PGBOUNCER_PASSWORD: ADMIN_PASSWORD } },
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await access.current().catch(() => 'down')) !== 'down') break;
    await sleep(100);
  }
});

after(async () => {
  bouncer?.kill('SIGTERM');
  await data?.close();
  await Promise.all([source?.stop(), target?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an application connected to PgBouncer writes through cutover and failback: 0 failed, 0 lost', { skip: hasPgbouncer ? false : 'pgbouncer is not installed (apt-get install pgbouncer)' }, async () => {
  assert.equal(await access.current(), 'source');
  await access.pointTo('source');
  const writer = new RetryingWriter({ url: `postgresql://app:${APP_PASSWORD}@127.0.0.1:${port}/shop`, writers: 2, perSecond: 200, maxWrites: 20_000 });
  writer.start();
  try {
    const options = { maxWritePauseMs: 1000, pointApplications: (side: 'source' | 'target') => access.pointTo(side) };
    const reports: SwitchoverReport[] = [];
    for (const move of ['cutover', 'failback', 'cutover'] as const) {
      const writes = writer.writes;
      await sleep(1500);
      assert.ok(writer.writes > writes + 50, `the application writes before the ${move}`);
      const report = move === 'cutover' ? await data.cutover(options) : await data.reverse(options);
      reports.push(report);
      assert.ok(report.writePauseMs <= 1000, `pause ${report.writePauseMs} ms`);
      assert.equal(await access.current(), report.to, 'PgBouncer reports the new side (SHOW DATABASES)');
    }
    const writes = writer.writes;
    await sleep(1500);
    assert.ok(writer.writes > writes + 50, 'the application writes on the target');
    await writer.stop();
    assert.equal(writer.failed, 0);
    assert.deepEqual(await writer.missingOn(target.connectionString), []);
    // The applications' sessions are on the target now.
    const onTarget = await sql(target.connectionString, "select count(*)::int as n from pg_stat_activity where usename = 'app'");
    assert.ok(onTarget.rows[0].n > 0, 'PgBouncer holds server connections to the target');
    process.stdout.write(`# pgbouncer: ${writer.writes} acknowledged writes, ${writer.retries} retried, 0 failed, 0 lost; pauses ${reports.map((r) => `${r.writePauseMs.toFixed(0)} ms`).join(', ')}; longest gap ${writer.longestGapMs.toFixed(0)} ms\n`);
  } finally {
    await writer.stop();
  }
});
