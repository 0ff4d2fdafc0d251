/**
 * Data benchmark: parity rows/s on 1,000,000 and 10,000,000 rows (target ≥ 1,000,000 rows/s),
 * queries needed to locate one differing row, the write pause at cutover, and — as the
 * naive reference measured in the same run — a `pg_dump -Fc | pg_restore` copy of the same
 * data. Both servers share this machine's cores. FERRY_BENCH_BIG_ROWS bounds the big case
 * (default 10,000,000; 0 skips it).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sql } from '../test/helpers/pg.js';
import { report, section } from './report.js';
import { POSTGRES_BIN, startLocalPostgres, type LocalPostgres } from '../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../src/data/postgres/provider.js';
import { withoutPassword } from '../src/data/postgres/schema.js';

const BIG = Number(process.env.FERRY_BENCH_BIG_ROWS ?? 10_000_000);

const TABLE = `create table public.orders (id bigint primary key, account int not null, amount numeric(12,2), note text,
  created_at timestamptz not null, payload text)`;
const fill = (from: number, to: number) =>
  `insert into public.orders select g, g % 1000, (g % 10000) / 100.0, 'note ' || g, timestamptz '2024-01-01' + g * interval '1 second', repeat(md5(g::text), 2) from generate_series(${from}, ${to}) g`;

/** Fills in 1M-row batches (bounded memory and WAL per statement). */
async function load(url: string, rows: number): Promise<void> {
  await sql(url, TABLE);
  for (let from = 1; from <= rows; from += 1_000_000) await sql(url, fill(from, Math.min(rows, from + 999_999)));
  await sql(url, 'vacuum analyze public.orders');
}

/** `pg_dump -Fc -Z0 | pg_restore` of the table into a fresh database on the other server; seconds. */
async function dumpRestore(from: LocalPostgres, to: LocalPostgres, db: string): Promise<number> {
  await sql(to.connectionString, `create database ${db}`);
  const toUrl = to.connectionString.replace(/\/postgres$/, `/${db}`);
  const started = performance.now();
  const dump = spawn(join(POSTGRES_BIN, 'pg_dump'), ['-Fc', '-Z0', '--table=public.orders', '--dbname', withoutPassword(from.connectionString)], {
    env: { PATH: process.env.PATH, PGPASSWORD: from.password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const restore = spawn(join(POSTGRES_BIN, 'pg_restore'), ['--no-owner', '--dbname', withoutPassword(toUrl)], {
    env: { PATH: process.env.PATH, PGPASSWORD: to.password },
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  dump.stdout.pipe(restore.stdin);
  await Promise.all([dump, restore].map((child) => new Promise((resolve) => child.once('close', resolve))));
  const seconds = (performance.now() - started) / 1000;
  await sql(to.connectionString, `drop database ${db}`);
  return seconds;
}

async function parityCase(rows: number, servers: { a: LocalPostgres; b: LocalPostgres }, withCutover: boolean): Promise<void> {
  const { a, b } = servers;
  section(`${rows.toLocaleString('en')} rows (${withCutover ? 'replicated by a subscription' : 'generated on both servers'})`);
  await load(a.connectionString, rows);
  const data = new PostgresDataProvider({ name: 'bench', source: { url: a.connectionString }, target: { url: b.connectionString } });
  try {
    if (withCutover) {
      await data.prepare({ copySchema: true });
      const t = performance.now();
      await data.startSync();
      await data.waitForSync({ maxLagSeconds: 1, timeoutMs: 600_000 });
      report({ name: 'initial copy by subscription (to all tables ready)', value: rows / ((performance.now() - t) / 1000), unit: 'rows/s' });
    } else {
      await load(b.connectionString, rows);
    }
    const dumpSeconds = await dumpRestore(a, b, 'dumpcopy');
    const dumpRate = rows / dumpSeconds;
    report({ name: 'pg_dump -Fc -Z0 | pg_restore of the same rows', value: dumpRate, unit: 'rows/s' });
    for (const hash of ['text', 'record'] as const) {
      const result = await data.parity({ hash });
      if (!result.ok) throw new Error(`parity failed on equal data: ${JSON.stringify(result.differences.slice(0, 3))}`);
      report({ name: `parity, ${hash} row hash (${result.queries} queries)`, value: result.rowsPerSecond, unit: 'rows/s', compare: { kind: 'target', label: '1,000,000 rows/s', value: 1_000_000, lowerIsBetter: false } });
      report({ name: `parity, ${hash} row hash, vs pg_dump | pg_restore`, value: result.rowsPerSecond, unit: 'rows/s', compare: { kind: 'reference', label: 'dump|restore', value: dumpRate, lowerIsBetter: false } });
    }
    const victim = Math.floor(rows * 0.61803);
    await sql(b.connectionString, `set session_replication_role = replica; update public.orders set note = note || '!' where id = ${victim}`);
    const found = await data.parity({ hash: 'record' });
    if (found.differences.length !== 1 || found.differences[0]!.key[0] !== String(victim)) throw new Error(`expected key ${victim}, got ${JSON.stringify(found.differences)}`);
    report({ name: 'queries to locate one differing row (after the chunk scan)', value: found.locateQueries, unit: 'queries' });
    report({ name: 'queries to locate one differing row (whole parity)', value: found.queries, unit: 'queries' });
    await sql(b.connectionString, `set session_replication_role = replica; update public.orders set note = 'note ${victim}' where id = ${victim}`);
    if (withCutover) {
      const cut = await data.cutover({ parity: { hash: 'record' } });
      report({ name: 'write pause at cutover', value: cut.writePauseMs, unit: 'ms', compare: { kind: 'target', label: '1 s', value: 1000, lowerIsBetter: true } });
      report({ name: 'write pause vs pg_dump | pg_restore copy (the naive pause)', value: cut.writePauseMs, unit: 'ms', compare: { kind: 'reference', label: 'dump|restore', value: dumpSeconds * 1000, lowerIsBetter: true } });
      await data.teardown();
    }
  } finally {
    await data.close();
  }
}

const settings = { shared_buffers: "'1GB'", max_wal_size: "'4GB'", checkpoint_timeout: "'30min'" };
for (const [rows, withCutover] of [[1_000_000, true], [BIG, false]] as const) {
  if (rows <= 0) continue;
  const [a, b] = await Promise.all([startLocalPostgres({ name: 'ferry-bench-a', settings }), startLocalPostgres({ name: 'ferry-bench-b', settings })]);
  try {
    await parityCase(rows, { a, b }, withCutover);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}
