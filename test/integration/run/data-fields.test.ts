/**
 * The data fields of a plan do what they say under `ferry run`: each test fails if the run
 * ignores its field. Real parts throughout (see stage.ts): lab clusters, the router as a
 * process, Prometheus, customer load, two PostgreSQL 15 servers, `ferry run` as a process.
 * Every test gets fresh databases on the two servers and its own slice name, so the
 * replication objects (named after the slice, slots cluster-wide) of one test never meet
 * another's.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startEndpointService } from '../../../src/data/endpoint-admin.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { sql } from '../../helpers/pg.js';
import { RetryingWriter } from '../data/retrying-writer.js';
import { resetRoute, startRunStage, type RunStage } from './stage.js';

const APP_PASSWORD = randomBytes(12).toString('hex');

let stage: RunStage;
let source: LocalPostgres;
let target: LocalPostgres;

before(async () => {
  [stage, source, target] = await Promise.all([startRunStage(), startLocalPostgres({ name: 'ferry-df-src' }), startLocalPostgres({ name: 'ferry-df-tgt' })]);
  // The applications' role exists on both servers with one password, as a switch of address needs.
  for (const db of [source, target]) await sql(db.connectionString, `create role app login password '${APP_PASSWORD}'`);
});
after(async () => {
  await stage?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Orders {
  sourceUrl: string;
  targetUrl: string;
  database: string;
}

function urlOf(server: LocalPostgres, database: string, user = server.user, password = server.password): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${server.host}:${server.port}/${database}`;
}

/** A fresh `orders` database on both servers: the table with rows on the source, nothing on the target. */
async function ordersDatabases(database: string, rows = 2000): Promise<Orders> {
  await Promise.all([source, target].map((db) => sql(db.connectionString, `create database ${database}`)));
  const orders = { database, sourceUrl: urlOf(source, database), targetUrl: urlOf(target, database) };
  await sql(
    orders.sourceUrl,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
     insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, ${rows}) g;
     grant all on public.orders to app; grant all on sequence public.orders_id_seq to app;`,
  );
  return orders;
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  run: string;
  stateDir: string;
  journal: any[];
  seconds: number;
  users?: { requests: number; failed: number; failures: string[] };
}

interface RunOptions {
  env?: Record<string, string>;
  /** Customer load through the router for the length of the run (slices that ramp). */
  load?: boolean;
  /** Called once the run is started, with a reader of its journal so far. */
  during?: (journal: () => any[]) => Promise<void>;
}

/**
 * A one-slice plan (adservice, renamed `name`) with `data`, run as `ferry run`. Slices that
 * do not ramp say `traffic.provider: none`; the source keeps running after decommission so
 * the next test's apply reads the same source.
 */
async function runPlan(name: string, edit: (plan: any, slice: any) => void, options: RunOptions = {}): Promise<Finished> {
  await resetRoute(stage);
  const plan = await stage.writePlan(name, (p, slice) => {
    slice.name = name;
    slice.decommission = { scaleSourceToZero: false };
    edit(p, slice);
  });
  const stateDir = join(stage.lab.dir, `state-${name}`);
  const users = options.load ? stage.load({ rate: 50 }) : undefined;
  const started = performance.now();
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json'], options.env);
  const journalSoFar = () => journalLines(stateDir);
  // Settled at once (kept as a value) so a failed assertion inside it is not an unhandled rejection while the run goes on.
  const during = options.during?.(journalSoFar).then(() => undefined, (error: unknown) => ({ error }));
  const code = await running.closed;
  const seconds = (performance.now() - started) / 1000;
  const duringFailed = await during;
  const seen = await users?.stop();
  if (duringFailed) throw duringFailed.error;
  const run = readdirSync(join(stateDir, 'runs'))[0]!;
  return { code, stdout: running.stdout, stderr: running.stderr, run, stateDir, journal: stage.journal(stateDir, run), seconds, ...(seen ? { users: seen } : {}) };
}

/** The journal as written so far; a torn last line (the run is writing it) is left out. */
function journalLines(stateDir: string): any[] {
  let runs: string[];
  try {
    runs = readdirSync(join(stateDir, 'runs'));
  } catch {
    return [];
  }
  if (!runs[0]) return [];
  let text = '';
  try {
    text = readFileSync(join(stateDir, 'runs', runs[0], 'journal.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line)] : [];
    } catch {
      return [];
    }
  });
}

async function waitForRecord(journal: () => any[], match: (record: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = journal().find(match);
    if (found) return found;
    if (journal().some((r) => r.type === 'run-failed' || r.type === 'run-completed')) break;
    await sleep(25);
  }
  return undefined;
}

const record = (journal: any[], type: string, stageName?: string) => journal.find((r) => r.type === type && (stageName === undefined || r.data.stage === stageName));
const explain = (result: Finished) => `exit ${result.code}; stderr: ${result.stderr.slice(-1500)}; journal: ${JSON.stringify(result.journal.map((r) => ({ type: r.type, ...r.data }))).slice(-2500)}`;

/** Every file under `dir`, with its text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, text: readFileSync(path, 'latin1') }];
  });
}

/** Data-only slices (traffic none): apply, data-sync, parity, data-cutover, soak, decommission. */
const dataOnly = (slice: any) => {
  slice.traffic = { provider: 'none' };
};

/**
 * Slices that ramp are judged on the data gates alone: no traffic gate, and an undecided step
 * holds (fails the run) instead of advancing, so a ramp passes only if the data gate passes.
 */
const judgedOnData = (plan: any, slice: any, gates: Record<string, unknown>) => {
  plan.spec.defaults.gates = { minRequests: 20 };
  plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'hold', maxExtensions: 1 };
  slice.gates = gates;
};

it('data.source: secret:default/orders-db/url is read from the source cluster, and its password is written nowhere', async () => {
  const orders = await ordersDatabases('orders_secret');
  // The source's connection string exists only in a Secret on the source cluster.
  const created = await stage.lab.kubectl(['create', 'secret', 'generic', 'orders-db', '-n', 'default', `--from-literal=url=${orders.sourceUrl}`], 'source');
  assert.equal(created.code, 0, created.stderr);
  const env = { ORDERS_TARGET_URL: orders.targetUrl };
  assert.ok(!Object.values({ ...process.env, ...env }).some((value) => value?.includes(source.password)), 'no variable of the run\'s environment holds the source\'s password');

  const result = await runPlan('orders-secret', (plan, slice) => {
    dataOnly(slice);
    slice.data = { source: 'secret:default/orders-db/url', target: 'env:ORDERS_TARGET_URL' };
  }, { env });
  assert.equal(result.code, 0, explain(result));
  // Connecting to the literal text "secret:default/orders-db/url" would have failed the data-sync stage.
  assert.equal(record(result.journal, 'stage-completed', 'data-sync')?.data.tables, 1);
  // The catch-up is journaled as a timeline: the first lag sample comes before the sync completes.
  const lagSample = record(result.journal, 'lag-sample');
  assert.equal(lagSample?.data.slice, 'orders-secret');
  assert.equal(lagSample?.data.tables, 1);
  assert.ok(lagSample.seq < record(result.journal, 'stage-completed', 'data-sync').seq);
  const cutover = record(result.journal, 'stage-completed', 'data-cutover');
  assert.ok(cutover && cutover.data.writePauseMs <= 1000, `cut over within the default data.maxWritePause (1s): ${JSON.stringify(cutover?.data)}`);
  assert.equal(Number((await sql(orders.targetUrl, 'select count(*) as n from public.orders')).rows[0].n), 2000);

  for (const password of [source.password, target.password]) {
    assert.ok(!result.stdout.includes(password) && !result.stderr.includes(password), 'no password in the run\'s output');
    const leaked = filesUnder(result.stateDir).filter((file) => file.text.includes(password)).map((file) => file.path);
    assert.deepEqual(leaked, [], 'no file of the run directory (journal included) holds a password');
  }
  process.stdout.write(`# secret: run ${result.seconds.toFixed(1)} s, write pause ${Number(cutover.data.writePauseMs).toFixed(0)} ms\n`);
});

it('data.maxWritePause: a budget the cutover cannot meet fails data-cutover naming the field, and the writes stay on the source', async () => {
  const orders = await ordersDatabases('orders_pause');
  // An application writing to the source all along: a give-back must never refuse it a write.
  const writer = new RetryingWriter({ url: urlOf(source, orders.database, 'app', APP_PASSWORD), writers: 2, perSecond: 100, maxWrites: 5_000 });
  writer.start();
  let result: Finished;
  try {
    result = await runPlan('orders-pause', (plan, slice) => {
      dataOnly(slice);
      slice.data = { source: 'env:ORDERS_SOURCE_URL', target: 'env:ORDERS_TARGET_URL', maxWritePause: '1ms' };
    }, { env: { ORDERS_SOURCE_URL: orders.sourceUrl, ORDERS_TARGET_URL: orders.targetUrl } });
    // The source still takes writes after the failed stage.
    const writes = writer.writes;
    await sleep(500);
    assert.ok(writer.writes > writes + 10, `the application keeps writing on the source (${writer.writes - writes} in 500 ms)`);
  } finally {
    await writer.stop();
  }
  assert.equal(result.code, 1, explain(result));
  const failed = record(result.journal, 'stage-failed');
  assert.equal(failed?.data.stage, 'data-cutover', explain(result));
  assert.match(failed.data.error, /the write pause would exceed data\.maxWritePause \(1 ms\): \d+ attempt\(s\) gave the writes back to the source/);
  const givenBack = result.journal.filter((r) => r.type === 'write-pause-given-back');
  assert.ok(givenBack.length >= 1, 'each given-back attempt is journaled');
  assert.equal(writer.failed, 0, 'no write failed for the application');
  assert.deepEqual(await writer.missingOn(orders.sourceUrl), [], 'every acknowledged write is on the source');
  // The source is open: a write that is not the application's own retry loop goes through too.
  await sql(orders.sourceUrl, `insert into public.orders (account, amount, note) values (1, 1, 'after the failed cutover')`);
  process.stdout.write(
    `# maxWritePause 1ms: run ${result.seconds.toFixed(1)} s, ${givenBack.length} attempts given back (pauses ${givenBack.map((r) => `${Number(r.data.pauseMs).toFixed(1)} ms at ${r.data.step}`).join(', ')}); ${writer.writes} writes on the source, ${writer.retries} retried, longest gap ${writer.longestGapMs.toFixed(0)} ms\n`,
  );
});

// Heartbeat lag between two local servers, measured idle: 0.25 ms at the least, 0.41 ms median
// over 300 heartbeats; 1 ms is not below every real lag here, 0.05 ms is.
const BELOW_ANY_LAG = '0.05ms';

it('gates.replicationLag: a max below any real lag rolls the ramp back on that gate; a generous max lets it pass', async () => {
  const tight = await ordersDatabases('orders_lag_tight');
  const failed = await runPlan('orders-lag-tight', (plan, slice) => {
    judgedOnData(plan, slice, { replicationLag: { max: BELOW_ANY_LAG } });
    slice.data = { source: 'env:ORDERS_SOURCE_URL', target: 'env:ORDERS_TARGET_URL' };
  }, { env: { ORDERS_SOURCE_URL: tight.sourceUrl, ORDERS_TARGET_URL: tight.targetUrl }, load: true });
  assert.equal(failed.code, 1, explain(failed));
  const rolledBack = record(failed.journal, 'rolled-back');
  assert.ok(rolledBack, explain(failed));
  const gate = rolledBack.data.evidence.gates.find((g: any) => g.verdict === 'fail');
  assert.equal(gate?.gate, 'replicationLag', JSON.stringify(rolledBack.data.evidence));
  assert.ok(gate.numbers.lagMs > 0.05, `lag ${gate.numbers.lagMs} ms`);
  assert.equal((await stage.route()).weights.target, 0, 'users are back on the source');
  assert.equal(failed.users?.failed, 0, failed.users?.failures.slice(0, 3).join('; '));

  const generous = await ordersDatabases('orders_lag_generous');
  const passed = await runPlan('orders-lag-generous', (plan, slice) => {
    judgedOnData(plan, slice, { replicationLag: { max: '30s' } });
    slice.data = { source: 'env:ORDERS_SOURCE_URL', target: 'env:ORDERS_TARGET_URL' };
  }, { env: { ORDERS_SOURCE_URL: generous.sourceUrl, ORDERS_TARGET_URL: generous.targetUrl }, load: true });
  assert.equal(passed.code, 0, explain(passed));
  assert.equal(record(passed.journal, 'rolled-back'), undefined);
  // With no other gate and onInconclusive hold, a step passes only on the lag gate's own pass.
  assert.equal(passed.journal.filter((r) => r.type === 'ramp-step-passed').length, 2, explain(passed));
  assert.equal(passed.users?.failed, 0, passed.users?.failures.slice(0, 3).join('; '));
  process.stdout.write(`# replicationLag: ${BELOW_ANY_LAG} rolled back at ${rolledBack.data.weightBefore}% on lag ${Number(gate.numbers.lagMs).toFixed(2)} ms (detection ${rolledBack.data.detectionMs} ms, recovery ${rolledBack.data.recoveryMs} ms), run ${failed.seconds.toFixed(1)} s; 30s passed, run ${passed.seconds.toFixed(1)} s\n`);
});

it('gates.dataParity: a row changed on the target behind replication\'s back during the ramp rolls the ramp back on that gate', async () => {
  const orders = await ordersDatabases('orders_parity');
  let changedAt = 0;
  const result = await runPlan('orders-parity', (plan, slice) => {
    judgedOnData(plan, slice, { dataParity: { required: true } });
    slice.traffic = { ...slice.traffic, steps: [25, 50, 100] };
    slice.data = { source: 'env:ORDERS_SOURCE_URL', target: 'env:ORDERS_TARGET_URL' };
  }, {
    env: { ORDERS_SOURCE_URL: orders.sourceUrl, ORDERS_TARGET_URL: orders.targetUrl },
    load: true,
    during: async (journal) => {
      // The parity stage has passed and users are on the target: now the target drifts.
      const first = await waitForRecord(journal, (r) => r.type === 'weight-set' && r.data.weight === 25);
      if (!first) return;
      assert.ok(record(journal(), 'stage-completed', 'parity'), 'the parity stage passed before the change');
      // As replication's apply worker does, so the guard that closes the target to applications lets it through.
      await sql(orders.targetUrl, `set session_replication_role = replica; update public.orders set note = 'changed behind replication' where id = 7`);
      changedAt = Date.now();
    },
  });
  assert.ok(changedAt > 0, `the ramp started: ${explain(result)}`);
  assert.equal(result.code, 1, explain(result));
  const rolledBack = record(result.journal, 'rolled-back');
  assert.ok(rolledBack, explain(result));
  const gate = rolledBack.data.evidence.gates.find((g: any) => g.verdict === 'fail');
  assert.equal(gate?.gate, 'dataParity', JSON.stringify(rolledBack.data.evidence));
  assert.equal(gate.numbers.differences, 1);
  assert.equal((await stage.route()).weights.target, 0, 'users are back on the source');
  assert.equal(result.users?.failed, 0, result.users?.failures.slice(0, 3).join('; '));
  const detected = Date.parse(rolledBack.at) - changedAt;
  process.stdout.write(`# dataParity: rolled back at ${rolledBack.data.weightBefore}% ${detected} ms after the change, run ${result.seconds.toFixed(1)} s\n`);
});

it('data.clientAccess (endpoint): an application writing through the endpoint during the run loses no write, fails none, and ends on the target', async () => {
  const orders = await ordersDatabases('orders_endpoint');
  const token = randomBytes(16).toString('hex');
  const endpoint = await startEndpointService({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    sides: { source: { host: source.host, port: source.port }, target: { host: target.host, port: target.port } },
    token,
  });
  const appUrl = `postgresql://app:${APP_PASSWORD}@${endpoint.listen.host}:${endpoint.listen.port}/${orders.database}`;
  const writer = new RetryingWriter({ url: appUrl, writers: 2, perSecond: 100, maxWrites: 5_000 });
  try {
    writer.start();
    const result = await runPlan('orders-endpoint', (plan, slice) => {
      dataOnly(slice);
      slice.data = { source: 'env:ORDERS_SOURCE_URL', target: 'env:ORDERS_TARGET_URL', clientAccess: { type: 'endpoint', adminUrl: endpoint.adminUrl, tokenEnv: 'ORDERS_ENDPOINT_TOKEN' } };
    }, { env: { ORDERS_SOURCE_URL: orders.sourceUrl, ORDERS_TARGET_URL: orders.targetUrl, ORDERS_ENDPOINT_TOKEN: token } });
    assert.equal(result.code, 0, explain(result));
    const writesAtEnd = writer.writes;
    await sleep(1000);
    assert.ok(writer.writes > writesAtEnd + 20, `the application keeps writing after the run (${writer.writes - writesAtEnd} in 1 s)`);
    await writer.stop();

    const cutover = record(result.journal, 'stage-completed', 'data-cutover');
    assert.equal(cutover?.data.applicationsRepointed, true, explain(result));
    assert.equal(endpoint.side(), 'target', 'the endpoint serves the target');
    const served = await sql(appUrl, 'select inet_server_port() as port');
    assert.equal(Number(served.rows[0].port), target.port, 'a new connection through the endpoint reaches the target');
    assert.ok(writesAtEnd > 100, `the application wrote during the run (${writesAtEnd})`);
    assert.equal(writer.failed, 0, 'no write failed for the application');
    assert.deepEqual(await writer.missingOn(orders.targetUrl), [], 'every acknowledged write is on the target');
    assert.ok(!result.stdout.includes(token) && !result.stderr.includes(token), 'the endpoint token is not printed');
    process.stdout.write(
      `# clientAccess endpoint: run ${result.seconds.toFixed(1)} s, write pause ${Number(cutover.data.writePauseMs).toFixed(0)} ms, ${writer.writes} acknowledged writes, ${writer.retries} retried, 0 failed, 0 lost; longest gap ${writer.longestGapMs.toFixed(0)} ms\n`,
    );
  } finally {
    // Also when the run or an assertion failed: an open endpoint would keep the test process alive.
    await writer.stop();
    await endpoint.close();
  }
});
