/**
 * The whole move of a 1,000,000-row database under a steady write load, on two real
 * PostgreSQL 15 servers: sync, parity, a tampered row found by key, cutover with the write
 * pause measured, failback, teardown. One file, steps in order (each needs the one before).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from '../../helpers/pg.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';
import type { TableProgress } from '../../../src/data/provider.js';
import { WriteLoad } from './write-load.js';

const ROWS = Number(process.env.FERRY_TEST_ROWS ?? 1_000_000);
const TAMPERED_ID = String(Math.floor(ROWS * 0.123457));

let source: LocalPostgres;
let target: LocalPostgres;
let data: PostgresDataProvider;
let load: WriteLoad | undefined;

async function slots(server: LocalPostgres): Promise<string[]> {
  return (await sql(server.connectionString, 'select slot_name from pg_replication_slots')).rows.map((r) => r.slot_name as string);
}

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-src' }), startLocalPostgres({ name: 'ferry-tgt' })]);
  await sql(
    source.connectionString,
    `create table public.orders (id bigserial primary key, account int not null, amount numeric(12,2), note text,
                                 created_at timestamptz not null default now(), payload text);
     create table public.order_lines (order_id bigint, line int, sku text not null, primary key (order_id, line));
     insert into public.orders (account, amount, note, created_at, payload)
       select g % 1000, (g % 10000) / 100.0, 'note ' || g, timestamptz '2024-01-01' + g * interval '1 second', repeat(md5(g::text), 2)
         from generate_series(1, ${ROWS}) g;
     insert into public.order_lines select g, l, 'sku-' || l from generate_series(1, 20000) g, generate_series(1, 3) l;`,
  );
  await sql(source.connectionString, 'vacuum analyze public.orders, public.order_lines');
  data = new PostgresDataProvider({ name: 'shop', source: { url: source.connectionString }, target: { url: target.connectionString } });
  load = new WriteLoad({ urls: { source: source.connectionString, target: target.connectionString }, primary: 'source', perSecond: 200, maxWrites: 60_000 });
});

after(async () => {
  await load?.stop().catch(() => undefined);
  await data?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

test(`sync of ${ROWS} rows under a steady write load reaches lag under 1 s`, async () => {
  const check = await data.check();
  assert.equal(check.ok, true, JSON.stringify(check.items.filter((i) => !i.ok)));
  const prepared = await data.prepare({ copySchema: true });
  assert.equal(prepared.schemaCopied, true);
  assert.deepEqual(prepared.differences, []);

  await load!.start();
  const started = performance.now();
  await data.startSync();
  const seen = new Set<TableProgress['state']>();
  const status = await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 120_000, onProgress: (s) => s.tables.forEach((t) => seen.add(t.state)) });
  const lag = status.lag!;
  process.stdout.write(`# sync: ${ROWS} rows ready in ${((performance.now() - started) / 1000).toFixed(1)} s; lag ${(lag.seconds! * 1000).toFixed(1)} ms, ${lag.bytes} bytes; states seen ${[...seen].join(',')}\n`);
  assert.ok(lag.seconds! < 1);
  assert.equal(lag.applyErrors, 0);
  assert.ok(status.tables.every((t) => t.state === 'ready' && t.targetBytes > 0));
  assert.ok(load!.writes > 0, 'the write load is running');
});

test('parity passes while replication is live', async () => {
  const report = await data.parity();
  process.stdout.write(`# parity: ${report.rows} rows in ${report.seconds.toFixed(2)} s, ${Math.round(report.rowsPerSecond)} rows/s, ${report.queries} queries, ${report.transientDifferences} transient\n`);
  assert.equal(report.ok, true, JSON.stringify(report.differences.slice(0, 5)));
  assert.equal(report.consistency, 'replayed-past-source-lsn');
  assert.ok(report.rows >= ROWS);
});

test('one row changed directly on the target: parity names exactly its primary key', async () => {
  await sql(target.connectionString, `set session_replication_role = replica; update public.orders set amount = amount + 0.01 where id = ${TAMPERED_ID}`);
  const report = await data.parity();
  process.stdout.write(`# tampered: found ${JSON.stringify(report.differences)} with ${report.locateQueries} queries after the chunk scan (${report.queries} in all)\n`);
  assert.equal(report.ok, false);
  assert.deepEqual(report.differences, [{ table: 'public.orders', key: [TAMPERED_ID], kind: 'changed' }]);
  await sql(target.connectionString, `set session_replication_role = replica; update public.orders set amount = amount - 0.01 where id = ${TAMPERED_ID}`);
});

test('cutover: write pause under 1 s, no acknowledged write lost, target takes the writes', async () => {
  const writesBefore = load!.writes;
  const report = await data.cutover().catch((error) => {
    process.stdout.write(`# source log:\n${source.logTail()}\n# target log:\n${target.logTail()}\n`);
    throw error;
  });
  process.stdout.write(`# cutover: write pause ${report.writePauseMs.toFixed(1)} ms (application saw ${load!.longestGapMs.toFixed(0)} ms between acks); steps ${report.steps.map((s) => `${s.step} ${s.ms.toFixed(0)}`).join(', ')}\n`);
  assert.ok(report.writePauseMs < 1000, `pause ${report.writePauseMs} ms`);
  assert.equal(report.parity?.ok, true, 'final parity at the frozen point');
  assert.ok(report.sequencesCopied >= 1);
  // Let the load write to the target for a moment, then check every acknowledged write is there.
  const deadline = Date.now() + 10_000;
  while ((load!.primary !== 'target' || load!.writes < writesBefore + 100) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(load!.primary, 'target', 'writers were refused by the source and moved to the target');
  await load!.stop();
  assert.deepEqual(await load!.missingOn(target.connectionString), []);
  // …and replication back to the source carried them too.
  await data.lag();
  assert.deepEqual(await load!.missingOn(source.connectionString), []);
  process.stdout.write(`# load: ${load!.writes} acknowledged writes, ${load!.refused} refused and retried\n`);
});

test('failback after writes on the target loses none of them', async () => {
  await load?.stop();
  load = new WriteLoad({ urls: { source: source.connectionString, target: target.connectionString }, primary: 'target', perSecond: 200, maxWrites: 60_000 });
  await load.start();
  await new Promise((r) => setTimeout(r, 1000));
  const report = await data.reverse();
  process.stdout.write(`# failback: write pause ${report.writePauseMs.toFixed(1)} ms\n`);
  assert.ok(report.writePauseMs < 1000);
  assert.equal(report.parity?.ok, true);
  const deadline = Date.now() + 10_000;
  while (load.primary !== 'source' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  await load.stop();
  assert.equal(load.primary, 'source');
  assert.deepEqual(await load.missingOn(source.connectionString), []);
  assert.ok(load.writes > 100);
});

test('teardown leaves no replication slot on either server', async () => {
  const report = await data.teardown();
  assert.deepEqual(report.leftovers, []);
  assert.deepEqual(await slots(source), []);
  assert.deepEqual(await slots(target), []);
  const again = await data.teardown();
  assert.deepEqual(again.dropped, [], 'teardown twice changes nothing');
});
