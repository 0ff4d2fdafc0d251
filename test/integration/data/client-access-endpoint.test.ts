/**
 * Applications follow their database through `ferry data endpoint` (data.clientAccess of
 * type endpoint): an application that knows only the endpoint's address keeps writing while
 * Ferry cuts over, fails back and cuts over again, re-pointing the endpoint inside each write
 * pause. No write fails for the user (dropped connections are retried, as applications do),
 * none acknowledged is lost, and every one is on the target at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';
import { createClientAccess, type DatabaseClientAccess } from '../../../src/data/client-access/index.js';
import type { SwitchoverReport } from '../../../src/data/provider.js';
import { ferry, startFerry, type RunningFerry } from '../../helpers/cli.js';
import { sql } from '../../helpers/pg.js';
import { RetryingWriter } from './retrying-writer.js';

const TOKEN = randomBytes(16).toString('hex');
const APP_PASSWORD = randomBytes(12).toString('hex');
const MAX_WRITE_PAUSE_MS = 1000;

let source: LocalPostgres;
let target: LocalPostgres;
let data: PostgresDataProvider;
let endpoint: RunningFerry;
let access: DatabaseClientAccess;
let adminUrl: string;
let listen: string;
let writer: RetryingWriter | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-ep-src' }), startLocalPostgres({ name: 'ferry-ep-tgt' })]);
  // The application's role exists on both sides with the same password, as it must for a
  // switch of address to be invisible to the application.
  for (const db of [source, target]) await sql(db.connectionString, `create role app login password '${APP_PASSWORD}'; grant all on schema public to app`);
  await sql(
    source.connectionString,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
     insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, 20000) g;
     grant all on public.orders to app; grant all on sequence public.orders_id_seq to app;`,
  );
  data = new PostgresDataProvider({ name: 'ep', source: { url: source.connectionString }, target: { url: target.connectionString } });
  await data.prepare({ copySchema: true });
  await sql(target.connectionString, 'grant all on public.orders to app; grant all on sequence public.orders_id_seq to app');
  await data.startSync();
  await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 60_000 });

  endpoint = startFerry(
    ['data', 'endpoint', '--listen', '127.0.0.1:0', '--source', `${source.host}:${source.port}`, '--target', `${target.host}:${target.port}`, '--admin', '127.0.0.1:0', '--token-env', 'SHOP_DB_ENDPOINT_TOKEN', '-o', 'json'],
    { SHOP_DB_ENDPOINT_TOKEN: TOKEN },
  );
  const deadline = Date.now() + 15_000;
  while (!endpoint.stdout.includes('}') && Date.now() < deadline) await sleep(50);
  const started = JSON.parse(endpoint.stdout) as { listen: string; adminUrl: string; side: string; adminWritable: boolean };
  assert.equal(started.side, 'source');
  assert.equal(started.adminWritable, true);
  ({ adminUrl, listen } = started);
  access = createClientAccess({ type: 'endpoint', adminUrl, tokenEnv: 'SHOP_DB_ENDPOINT_TOKEN' }, { env: { SHOP_DB_ENDPOINT_TOKEN: TOKEN } });
});

after(async () => {
  await writer?.stop().catch(() => undefined);
  await data?.close();
  endpoint?.child.kill('SIGTERM');
  await endpoint?.closed;
  await Promise.all([source?.stop(), target?.stop()]);
});

test('the endpoint admin API refuses a switch without the token, and never prints the token', async () => {
  const refused = await fetch(new URL('/side', adminUrl), { method: 'PUT', body: JSON.stringify({ side: 'target' }), headers: { 'content-type': 'application/json' } });
  assert.equal(refused.status, 401);
  const wrong = await fetch(new URL('/side', adminUrl), { method: 'PUT', body: JSON.stringify({ side: 'target' }), headers: { 'content-type': 'application/json', authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  assert.equal(await access.current(), 'source');
  const unauthorised = createClientAccess({ type: 'endpoint', adminUrl, tokenEnv: 'UNSET_TOKEN_VARIABLE' }, { env: {} });
  await assert.rejects(unauthorised.pointTo('target'), /UNSET_TOKEN_VARIABLE is not set/);
  assert.equal(await access.current(), 'source');
  // pointTo the side it already serves closes nothing.
  const before = (await (await fetch(new URL('/side', adminUrl))).json()) as { connections: number };
  await access.pointTo('source');
  assert.equal(((await (await fetch(new URL('/side', adminUrl))).json()) as { side: string }).side, 'source');
  assert.ok(before.connections >= 0);
  assert.ok(!endpoint.stdout.includes(TOKEN) && !endpoint.stderr.includes(TOKEN));
});

test('an application writing through the endpoint while Ferry cuts over, fails back and cuts over again: 0 failed, 0 lost, all on the target', async () => {
  writer = new RetryingWriter({ url: `postgresql://app:${APP_PASSWORD}@${listen}/${source.database}`, writers: 2, perSecond: 200, maxWrites: 20_000 });
  writer.start();
  const options = { maxWritePauseMs: MAX_WRITE_PAUSE_MS, pointApplications: (side: 'source' | 'target') => access.pointTo(side) };
  const reports: SwitchoverReport[] = [];
  for (const move of ['cutover', 'failback', 'cutover'] as const) {
    const writesBefore = writer.writes;
    await sleep(1500);
    assert.ok(writer.writes > writesBefore + 50, `the application writes before the ${move} (${writer.writes - writesBefore})`);
    const report = move === 'cutover' ? await data.cutover(options) : await data.reverse(options);
    reports.push(report);
    assert.equal(report.to, move === 'cutover' ? 'target' : 'source');
    assert.ok(report.writePauseMs <= MAX_WRITE_PAUSE_MS, `pause ${report.writePauseMs} ms`);
    assert.equal(report.pauseOverLimitMs, 0);
    assert.equal(report.parity?.ok, true);
    assert.ok(report.steps.some((s) => s.step === `point applications at the ${report.to}`), 'the endpoint moved inside the pause');
    // The world says where the applications are: the endpoint's own state.
    assert.equal(await access.current(), report.to);
  }
  const afterLast = writer.writes;
  await sleep(1500);
  assert.ok(writer.writes > afterLast + 50, 'the application keeps writing on the target');
  await writer.stop();

  assert.equal(writer.failed, 0, 'no write failed for the user');
  assert.deepEqual(await writer.missingOn(target.connectionString), [], 'every acknowledged write is on the target');
  // …and, once the reverse replication delivered it, on the source too (the way back loses nothing).
  const deadline = Date.now() + 15_000;
  let missing = await writer.missingOn(source.connectionString);
  while (missing.length > 0 && Date.now() < deadline) {
    await sleep(200);
    missing = await writer.missingOn(source.connectionString);
  }
  assert.deepEqual(missing, []);
  process.stdout.write(
    `# endpoint: ${writer.writes} acknowledged writes, ${writer.retries} retried, 0 failed; pauses ${reports.map((r) => `${r.writePauseMs.toFixed(0)} ms`).join(', ')}; longest gap the application saw ${writer.longestGapMs.toFixed(0)} ms\n`,
  );
});

test('ferry data failback killed while re-pointing the endpoint inside the pause, then run again: the application loses nothing and sees no failure', async () => {
  writer = new RetryingWriter({ url: `postgresql://app:${APP_PASSWORD}@${listen}/${source.database}`, writers: 2, perSecond: 200, maxWrites: 20_000, giveUpMs: 20_000 });
  writer.start();
  await sleep(1000);
  const env = { FERRY_SOURCE_URL: source.connectionString, FERRY_TARGET_URL: target.connectionString, SHOP_DB_ENDPOINT_TOKEN: TOKEN };
  const args = ['data', 'failback', '--name', 'ep', '--endpoint', adminUrl, '--endpoint-token-env', 'SHOP_DB_ENDPOINT_TOKEN', '-o', 'json'];
  const crashed = startFerry(args, { ...env, FERRY_FAILPOINT: 'switchover:point' });
  await crashed.closed;
  assert.equal(crashed.child.signalCode, 'SIGKILL', crashed.stderr);
  // Killed with the endpoint already moved to the source, which is still closed: writes are refused and retried meanwhile.
  assert.equal(await access.current(), 'source');

  const resumed = startFerry(args, env);
  assert.equal(await resumed.closed, 0, resumed.stderr);
  const report = JSON.parse(resumed.stdout) as SwitchoverReport;
  assert.equal(report.to, 'source');
  assert.ok(report.writePauseMs <= 1000, `pause ${report.writePauseMs} ms`);
  assert.equal(await access.current(), 'source');
  const writes = writer.writes;
  await sleep(1000);
  assert.ok(writer.writes > writes + 50, 'the application writes on the source');
  await writer.stop();
  assert.equal(writer.failed, 0);
  assert.deepEqual(await writer.missingOn(source.connectionString), []);
  assert.ok(!resumed.stdout.includes(TOKEN) && !resumed.stderr.includes(TOKEN) && !crashed.stderr.includes(TOKEN));
  process.stdout.write(`# crash while re-pointing: ${writer.writes} acknowledged writes, ${writer.retries} retried, 0 failed, 0 lost; resumed pause ${report.writePauseMs.toFixed(0)} ms; longest gap ${writer.longestGapMs.toFixed(0)} ms\n`);
});

test('ferry data endpoint keeps its admin API on loopback', () => {
  const refused = ferry(['data', 'endpoint', '--listen', '127.0.0.1:0', '--source', '127.0.0.1:1', '--target', '127.0.0.1:2', '--admin', '0.0.0.0:0']);
  assert.equal(refused.code, 2, 'a usage error');
  assert.match(refused.stderr, /admin API must listen on loopback, not 0\.0\.0\.0/);
});
