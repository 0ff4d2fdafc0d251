/**
 * `ferry run` SIGKILLed at 20 random moments across a two-slice plan with traffic and data
 * (an application writing through its database endpoint all along), then resumed each time:
 * the run ends completed, no weight ever went below one already set, no stage ran again after
 * its completion was journaled, every acknowledged write is on the target, and no replication
 * slot or subscription is left.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startEndpointService, type EndpointService } from '../../../src/data/endpoint-admin.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { seededRandom } from '../../../src/util/random.js';
import { sql } from '../../helpers/pg.js';
import { RetryingWriter } from '../data/retrying-writer.js';
import { resetRoute, startRunStage, type RunStage } from './stage.js';

const KILLS = 20;
const SEED = Number(process.env.FERRY_CRASH_SEED ?? 20261130);
const TOKEN = randomBytes(16).toString('hex');
const APP_PASSWORD = randomBytes(12).toString('hex');

let stage: RunStage;
let source: LocalPostgres;
let target: LocalPostgres;
let endpoint: EndpointService;

before(async () => {
  [stage, source, target] = await Promise.all([startRunStage(), startLocalPostgres({ name: 'ferry-crash-src' }), startLocalPostgres({ name: 'ferry-crash-tgt' })]);
  for (const db of [source, target]) await sql(db.connectionString, `create role app login password '${APP_PASSWORD}'; grant all on schema public to app`);
  await sql(source.connectionString, `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
    insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, 5000) g;
    grant all on public.orders to app; grant all on sequence public.orders_id_seq to app;`);
  endpoint = await startEndpointService({
    listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, token: TOKEN,
    sides: { source: { host: source.host, port: source.port }, target: { host: target.host, port: target.port } },
  });
});
after(async () => {
  await endpoint?.close();
  await Promise.all([stage?.stop(), source?.stop(), target?.stop()]);
});

test(`a run SIGKILLed at ${KILLS} random moments and resumed each time ends as an uninterrupted one would`, async () => {
  await resetRoute(stage);
  const plan = await stage.writePlan('crash', (p, slice) => {
    p.spec.defaults.traffic.steps = [20, 60, 100];
    slice.data = {
      provider: 'postgres', source: 'env:CRASH_SOURCE_DB', target: 'env:CRASH_TARGET_DB', copySchema: true, maxWritePause: '2s', maxLag: '1s',
      clientAccess: { type: 'endpoint', adminUrl: endpoint.adminUrl, tokenEnv: 'CRASH_ENDPOINT_TOKEN' },
    };
  }, ['emailservice']);
  const env = { CRASH_SOURCE_DB: source.connectionString, CRASH_TARGET_DB: target.connectionString, CRASH_ENDPOINT_TOKEN: TOKEN };
  const stateDir = join(stage.lab.dir, 'state-crash');
  const appUrl = `postgresql://app:${APP_PASSWORD}@${endpoint.listen.host}:${endpoint.listen.port}/${source.database}`;
  const writer = new RetryingWriter({ url: appUrl, writers: 2, perSecond: 40, maxWrites: 20_000, giveUpMs: 15_000 });
  writer.start();
  const users = stage.load({ rate: 60 });
  const random = seededRandom(SEED);
  const killedAt: number[] = [];
  let running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json'], env);
  let code: number | null = null;
  for (;;) {
    // Kills land anywhere: during start-up, apply, sync, parity, a ramp step, cutover, soak.
    const delay = 400 + Math.floor(random() * 3600);
    const closed = await Promise.race([running.closed.then((c) => ({ c })), new Promise<undefined>((resolve) => setTimeout(resolve, delay))]);
    if (closed) {
      code = closed.c;
      break;
    }
    if (killedAt.length >= KILLS) {
      code = await running.closed;
      break;
    }
    running.child.kill('SIGKILL');
    await running.closed;
    killedAt.push(delay);
    const run = startedRun(stateDir);
    running = run ? stage.ferry(['resume', run, '--state-dir', stateDir, '-o', 'json'], env) : stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json'], env);
  }
  await writer.stop();
  const seen = await users.stop();
  assert.equal(code, 0, `seed ${SEED}, kills after ${killedAt.join(', ')} ms: ${running.stderr.slice(-1500)}`);
  assert.equal(killedAt.length, KILLS, `the run finished before ${KILLS} kills (${killedAt.length}); lengthen it`);
  const run = startedRun(stateDir)!;
  assert.equal(JSON.parse(running.stdout).status, 'completed');
  const journal = stage.journal(stateDir, run);

  const weights = journal.filter((r) => r.type === 'weight-set').map((r) => r.data.weight as number);
  for (let i = 1; i < weights.length; i++) assert.ok(weights[i]! >= weights[i - 1]!, `weight went back from ${weights[i - 1]} to ${weights[i]}: ${weights.join(' → ')}`);
  assert.equal(weights.at(-1), 100);
  const done = new Set<string>();
  for (const record of journal) {
    const key = `${record.data.slice}/${record.data.stage}`;
    if (record.type === 'stage-started') assert.ok(!done.has(key), `${key} started again after it completed (seq ${record.seq})`);
    if (record.type === 'stage-completed') done.add(key);
  }
  assert.ok(done.has('adservice/decommission') && done.has('emailservice/decommission'));
  assert.ok(journal.filter((r) => r.type === 'run-resumed').length >= 1);

  assert.equal(writer.failed, 0, 'no write failed for the application');
  assert.deepEqual(await writer.missingOn(target.connectionString), [], 'every acknowledged write is on the target');
  for (const db of [source, target]) {
    assert.equal((await sql(db.connectionString, 'select count(*)::int as n from pg_replication_slots')).rows[0].n, 0, 'no replication slot left');
  }
  assert.equal((await sql(target.connectionString, 'select count(*)::int as n from pg_subscription')).rows[0].n, 0, 'no subscription left');
  assert.equal((await sql(source.connectionString, 'select count(*)::int as n from pg_subscription')).rows[0].n, 0, 'no subscription left');
  assert.equal(seen.failed, 0, seen.failures.slice(0, 3).join('; '));
  const verified = stage.ferry(['audit', 'verify', run, '--state-dir', stateDir]);
  assert.equal(await verified.closed, 0, verified.stdout);
});

/** The run that has journaled something: a kill during set-up leaves an unstarted directory (or none), which a user reruns. */
function startedRun(stateDir: string): string | undefined {
  const runs = join(stateDir, 'runs');
  if (!existsSync(runs)) return undefined;
  return readdirSync(runs).find((id) => {
    const journal = join(runs, id, 'journal.jsonl');
    return existsSync(journal) && statSync(journal).size > 0;
  });
}
