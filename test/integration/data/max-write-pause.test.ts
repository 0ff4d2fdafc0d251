/**
 * data.maxWritePause is a limit, not a wish. Replication runs over a link that delays it by
 * 400 ms, so no drain can finish inside a 200 ms pause: every attempt gives the writes back
 * to the source (the application sees a short delay, never a refusal) and the cutover fails
 * with an error naming data.maxWritePause and the fix. When the delay goes away after the
 * first give-back, the retry switches within the limit and no acknowledged write is lost.
 *
 * Tolerance: a given-back pause may pass the limit only by the time to notice (one poll of
 * at most 20 ms plus a query) and roll back; asserted as limit + 50 ms.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';
import type { GivenBackPause } from '../../../src/data/provider.js';
import { FerryError } from '../../../src/util/errors.js';
import { sql } from '../../helpers/pg.js';
import { startSlowLink, type SlowLink } from './slow-link.js';
import { WriteLoad } from './write-load.js';

const LIMIT_MS = 200;
const TOLERANCE_MS = 50;

let source: LocalPostgres;
let target: LocalPostgres;
let link: SlowLink;
let data: PostgresDataProvider;
let load: WriteLoad | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-mwp-src' }), startLocalPostgres({ name: 'ferry-mwp-tgt' })]);
  await sql(
    source.connectionString,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text);
     insert into public.orders (account, amount, note) select g % 100, g, 'seed ' || g from generate_series(1, 20000) g;`,
  );
  link = await startSlowLink({ host: source.host, port: source.port }, 0);
  const replicationUrl = `postgresql://${encodeURIComponent(source.user)}:${encodeURIComponent(source.password)}@127.0.0.1:${link.port}/${source.database}`;
  data = new PostgresDataProvider({ name: 'mwp', source: { url: source.connectionString, replicationUrl }, target: { url: target.connectionString } });
  await data.prepare({ copySchema: true });
  await data.startSync();
  await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 60_000 });
  load = new WriteLoad({ urls: { source: source.connectionString, target: target.connectionString }, primary: 'source', perSecond: 100, maxWrites: 20_000 });
  await load.start();
});

after(async () => {
  await load?.stop().catch(() => undefined);
  await data?.close();
  await link?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

test('a drain that cannot fit in data.maxWritePause gives the writes back on every attempt, then fails naming the field and the fix', async () => {
  link.delayMs = 400;
  await sleep(1000);
  const givenBack: GivenBackPause[] = [];
  const error = await data.cutover({ maxWritePauseMs: LIMIT_MS, lockAttempts: 3, onGiveBack: (event) => givenBack.push(event) }).then(
    () => assert.fail('the cutover should have failed'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FerryError);
  assert.equal(error.location.field, 'data.maxWritePause');
  assert.match(error.message, /would exceed data\.maxWritePause \(200 ms\): 3 attempt\(s\) gave the writes back to the source/);
  assert.match(error.fix ?? '', /raise data\.maxWritePause/);
  assert.equal(givenBack.length, 3);
  for (const event of givenBack) {
    assert.equal(event.step, 'drain');
    assert.ok(event.pauseMs <= LIMIT_MS + TOLERANCE_MS, `given-back pause ${event.pauseMs.toFixed(0)} ms`);
  }
  // The writes never left the source: nothing was refused, the application only waited.
  const writes = load!.writes;
  await sleep(500);
  assert.ok(load!.writes > writes + 20, 'the application keeps writing on the source');
  assert.equal(load!.primary, 'source');
  assert.equal(load!.refused, 0, 'no write was refused');
  const status = await data.status();
  assert.equal(status.direction, 'ferry_mwp_s2t', 'replication source → target is still the one running');
  process.stdout.write(`# given back: ${givenBack.map((g) => `${g.pauseMs.toFixed(0)} ms`).join(', ')} (limit ${LIMIT_MS} ms); longest gap the application saw ${load!.longestGapMs.toFixed(0)} ms\n`);
});

test('a stall that clears after one give-back: the retry switches within data.maxWritePause and loses nothing', async () => {
  link.delayMs = 400;
  await sleep(1000);
  const report = await data.cutover({
    maxWritePauseMs: LIMIT_MS,
    // The link recovers as soon as the first attempt is given back.
    onGiveBack: () => void (link.delayMs = 0),
  });
  assert.equal(report.to, 'target');
  assert.ok(report.givenBack.length >= 1, 'the first attempt was given back');
  for (const event of report.givenBack) assert.ok(event.pauseMs <= LIMIT_MS + TOLERANCE_MS, `given-back pause ${event.pauseMs.toFixed(0)} ms`);
  assert.ok(report.writePauseMs <= LIMIT_MS, `pause ${report.writePauseMs.toFixed(0)} ms`);
  assert.equal(report.pauseOverLimitMs, 0);
  assert.equal(report.maxWritePauseMs, LIMIT_MS);
  assert.equal(report.parity?.ok, true);

  const deadline = Date.now() + 10_000;
  while (load!.primary !== 'target' && Date.now() < deadline) await sleep(50);
  const writes = load!.writes;
  await sleep(500);
  assert.ok(load!.writes > writes + 20, 'the application writes on the target');
  await load!.stop();
  assert.deepEqual(await load!.missingOn(target.connectionString), []);
  process.stdout.write(`# given back ${report.givenBack.map((g) => `${g.pauseMs.toFixed(0)} ms`).join(', ')}, then switched with a ${report.writePauseMs.toFixed(0)} ms pause (limit ${LIMIT_MS} ms)\n`);
});

test('a re-point too slow for the limit is given back in time, after the new direction started: the retry repairs replication, switches, and loses nothing', async () => {
  // Failback this time: the writes are on the target since the test before.
  const failbackLoad = new WriteLoad({ urls: { source: source.connectionString, target: target.connectionString }, primary: 'target', perSecond: 100, maxWrites: 20_000 });
  await failbackLoad.start();
  try {
    await sleep(500);
    const pointed: string[] = [];
    let slow = true;
    const report = await data.reverse({
      maxWritePauseMs: LIMIT_MS,
      pointApplications: async (side) => {
        pointed.push(side);
        // The first re-point inside the pause takes longer than the whole budget.
        if (side === 'source' && slow) await sleep(LIMIT_MS + 100);
      },
      onGiveBack: () => void (slow = false),
    });
    assert.equal(report.to, 'source');
    assert.equal(report.givenBack.length, 1);
    assert.equal(report.givenBack[0]!.step, 'point', 'given back while the re-point ran, after the new direction had started');
    assert.ok(report.givenBack[0]!.pauseMs <= LIMIT_MS + TOLERANCE_MS, `given-back pause ${report.givenBack[0]!.pauseMs.toFixed(0)} ms`);
    assert.ok(report.writePauseMs <= LIMIT_MS, `pause ${report.writePauseMs.toFixed(0)} ms`);
    // Ensure before the pause, move inside it, move back on give-back, ensure again, move.
    assert.deepEqual(pointed, ['target', 'source', 'target', 'target', 'source']);
    assert.equal(report.parity?.ok, true);

    const deadline = Date.now() + 10_000;
    while (failbackLoad.primary !== 'source' && Date.now() < deadline) await sleep(50);
    await sleep(500);
    await failbackLoad.stop();
    assert.deepEqual(await failbackLoad.missingOn(source.connectionString), []);
    // Replication source → target runs again and carries what was written since.
    let missing = await failbackLoad.missingOn(target.connectionString);
    const until = Date.now() + 15_000;
    while (missing.length > 0 && Date.now() < until) {
      await sleep(200);
      missing = await failbackLoad.missingOn(target.connectionString);
    }
    assert.deepEqual(missing, []);
    process.stdout.write(`# re-point given back after ${report.givenBack[0]!.pauseMs.toFixed(0)} ms, then switched with a ${report.writePauseMs.toFixed(0)} ms pause\n`);
  } finally {
    await failbackLoad.stop();
  }
});
