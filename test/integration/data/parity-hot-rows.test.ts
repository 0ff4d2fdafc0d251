/**
 * Live parity against an application that updates a few rows many times a second (a stock
 * counter per product, as the demo shop does on every order). Two snapshots, one per server,
 * almost never hold such a row at the same version, so a parity that only re-reads snapshot
 * pairs reports it as changed; the answer must still be "equal", and a real difference must
 * still be named by key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from '../../helpers/pg.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';

let source: LocalPostgres;
let target: LocalPostgres;
let data: PostgresDataProvider;
let running = false;
let updates = 0;
const writers: Promise<void>[] = [];

/** Orders as fast as one connection allows (bounded by `stopAt`): decrement a stock row, insert an order. */
async function orderLoop(url: string, writer: number, stopAt: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; running && Date.now() < stopAt; i++) {
      try {
        await client.query('begin');
        await client.query('update public.stock set units = units - 1, updated_at = clock_timestamp() where product = $1', [(i + writer) % 3]);
        await client.query('insert into public.orders (product, note) values ($1, $2)', [(i + writer) % 3, `w${writer}-${i}`]);
        await client.query('commit');
        updates++;
      } catch (error) {
        await client.query('rollback');
        // After the cutover the source refuses writes (SQLSTATE 25006): this writer is done.
        if ((error as { code?: string }).code === '25006') return;
        throw error;
      }
    }
  } finally {
    await client.end();
  }
}

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-hot-src' }), startLocalPostgres({ name: 'ferry-hot-tgt' })]);
  await sql(
    source.connectionString,
    `create table public.stock (product int primary key, units bigint not null, updated_at timestamptz not null default now());
     create table public.orders (id bigserial primary key, product int not null references public.stock, note text not null);
     insert into public.stock select g, 1000000000 from generate_series(0, 2) g;
     insert into public.orders (product, note) select g % 3, 'seed ' || g from generate_series(1, 50000) g;`,
  );
  data = new PostgresDataProvider({ name: 'hot', source: { url: source.connectionString }, target: { url: target.connectionString } });
  await data.prepare({ copySchema: true });
  await data.startSync();
  await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 60_000 });
  running = true;
  const stopAt = Date.now() + 60_000;
  for (let w = 0; w < 3; w++) writers.push(orderLoop(source.connectionString, w, stopAt));
  while (updates < 200) await new Promise((r) => setTimeout(r, 20));
});

after(async () => {
  running = false;
  await Promise.allSettled(writers);
  await data?.teardown().catch(() => undefined);
  await data?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

test('parity passes while three stock rows are updated on every order', async () => {
  for (let round = 0; round < 4; round++) {
    const before = updates;
    const report = await data.parity();
    assert.ok(updates > before, 'the order load kept writing during parity');
    assert.equal(report.ok, true, `round ${round}: ${JSON.stringify(report.differences)}`);
  }
});

test('under the same load, a row changed on the target is still named by its key', async () => {
  await sql(target.connectionString, `set session_replication_role = replica; update public.orders set note = 'tampered' where id = 4242`);
  const report = await data.parity();
  assert.equal(report.ok, false);
  assert.deepEqual(report.differences, [{ table: 'public.orders', key: ['4242'], kind: 'changed' }]);
  await sql(target.connectionString, `set session_replication_role = replica; update public.orders set note = 'seed 4242' where id = 4242`);
});

test('cutover under the same load freezes writes at the first attempts: parent tables are locked before the tables that reference them', async () => {
  // The writers update stock, then insert into orders (which references stock). Locking
  // orders first (alphabetical) deadlocked against them until lock_timeout, every attempt.
  const report = await data.cutover({ lockTimeoutMs: 500, lockAttempts: 3 });
  assert.ok(report.lockAttempts <= 2, `${report.lockAttempts} attempts`);
  assert.equal(report.failedFreezeMs > 0, report.lockAttempts > 1, 'a timed-out attempt is reported as time writers queued');
  assert.ok(report.writePauseMs < 1000, `pause ${report.writePauseMs} ms`);
  assert.equal(report.parity?.ok, true);
});
