/**
 * `ferry data cutover` and `failback` killed (SIGKILL, no cleanup) at each step of the write
 * pause, under a steady write load, then run again: every run finishes the move, and no
 * write the application saw acknowledged is lost on either side.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { startFerry } from '../../helpers/cli.js';
import { sql } from '../../helpers/pg.js';
import { WriteLoad } from './write-load.js';

let source: LocalPostgres;
let target: LocalPostgres;
let load: WriteLoad | undefined;
let env: Record<string, string>;

/** The real CLI with the servers' URLs in its environment; resolves when it exits (or is killed). */
async function ferry(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const running = startFerry(args, { ...env, ...extraEnv });
  const code = await running.closed;
  return { code, signal: running.child.signalCode, stdout: running.stdout, stderr: running.stderr };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-crash-src' }), startLocalPostgres({ name: 'ferry-crash-tgt' })]);
  env = { FERRY_SOURCE_URL: source.connectionString, FERRY_TARGET_URL: target.connectionString };
  await sql(
    source.connectionString,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
     insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, 20000) g;`,
  );
  const sync = await ferry(['data', 'sync', '--name', 'crash', '--copy-schema', '--wait']);
  assert.equal(sync.code, 0, sync.stderr);
  load = new WriteLoad({ urls: { source: source.connectionString, target: target.connectionString }, primary: 'source', perSecond: 100, maxWrites: 30_000 });
  await load.start();
});

after(async () => {
  await load?.stop().catch(() => undefined);
  await Promise.all([source?.stop(), target?.stop()]);
});

test('killed at every step of the write pause, cutover and failback finish when run again; no acknowledged write is lost', async () => {
  const crashes: Array<['cutover' | 'failback', string]> = [
    ['cutover', 'freeze'],
    ['failback', 'drain'],
    ['cutover', 'detach'],
    ['failback', 'start'],
    ['cutover', 'close'],
    ['failback', 'open'],
  ];
  for (const [command, step] of crashes) {
    const writesBefore = load!.writes;
    const crashed = await ferry(['data', command, '--name', 'crash'], { FERRY_FAILPOINT: `switchover:${step}` });
    assert.equal(crashed.signal, 'SIGKILL', `${command} should have died at ${step}: ${crashed.stderr}`);

    const resumed = await ferry(['data', command, '--name', 'crash', '-o', 'json']);
    assert.equal(resumed.code, 0, `${command} after a crash at ${step}: ${resumed.stderr}`);
    const report = JSON.parse(resumed.stdout);
    assert.equal(report.to, command === 'cutover' ? 'target' : 'source');
    if (!report.alreadyDone) assert.ok(report.writePauseMs < 1000, `pause ${report.writePauseMs} ms`);

    // The application follows the writes to the side now open, and keeps being acknowledged there.
    const primary = command === 'cutover' ? 'target' : 'source';
    const deadline = Date.now() + 15_000;
    while ((load!.primary !== primary || load!.writes < writesBefore + 50) && Date.now() < deadline) await sleep(50);
    assert.equal(load!.primary, primary, `after ${command} (crash at ${step}) the writers moved to the ${primary}`);
  }
  await load!.stop();
  // Everything acknowledged is on the side that ended up primary (the source, after the last failback)…
  assert.deepEqual(await load!.missingOn(source.connectionString), []);
  // …and, once replication has delivered it, on the other side too.
  const lag = await ferry(['data', 'status', '--name', 'crash', '-o', 'json']);
  assert.equal(lag.code, 0, lag.stderr);
  const deadline = Date.now() + 15_000;
  let missing = await load!.missingOn(target.connectionString);
  while (missing.length > 0 && Date.now() < deadline) {
    await sleep(200);
    missing = await load!.missingOn(target.connectionString);
  }
  assert.deepEqual(missing, []);
  process.stdout.write(`# ${load!.writes} acknowledged writes across 6 crashed and resumed switchovers, ${load!.refused} refused and retried\n`);

  const teardown = await ferry(['data', 'teardown', '--name', 'crash']);
  assert.equal(teardown.code, 0, teardown.stdout);
  for (const server of [source, target]) assert.equal((await sql(server.connectionString, 'select * from pg_replication_slots')).rowCount, 0);
});
