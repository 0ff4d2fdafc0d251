/**
 * Parity benchmark: `ferry data parity` on a multi-table fixture of realistic shapes
 * (bench/parity-fixture.ts) held by two local PostgreSQL 15 servers, with 0, 10 and 1,000
 * differing rows spread over the tables, next to two references measured in the same run:
 *
 *  - the floor: one `count(*), bit_xor(hash_record_extended(t, 0))` pass per table, all
 *    tables on both sides at once (connections opened beforehand);
 *  - the naive way: `pg_dump --data-only` of both sides (in parallel) and `diff` of the dumps
 *    (a fixed --restrict-key, or every dump differs in its random `\restrict` line; rows come in
 *    physical order, so a row rewritten on one side shows as moved even when equal).
 *
 * Each figure is the median of REPEATS interleaved runs. Both servers share this machine's
 * cores. FERRY_BENCH_PARITY_SIZES picks the sizes (default "1000000,10000000"), FERRY_BENCH_PARITY_DIFFS
 * the numbers of differing rows (default "0,10,1000").
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { report, section } from './report.js';
import { differences, FIXTURE, loadFixture } from './parity-fixture.js';
import { POSTGRES_BIN, startLocalPostgres, type LocalPostgres } from '../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../src/data/postgres/provider.js';
import { withoutPassword } from '../src/data/postgres/schema.js';
import type { ParityReport } from '../src/data/provider.js';
import { percentile } from '../src/analysis/stats/percentile.js';
import { REPO, runAsync, type CliResult } from '../test/helpers/cli.js';
import { sql } from '../test/helpers/pg.js';

const SIZES = (process.env.FERRY_BENCH_PARITY_SIZES ?? '1000000,10000000').split(',').map(Number).filter((n) => n > 0);
const DIFFS = (process.env.FERRY_BENCH_PARITY_DIFFS ?? '0,10,1000').split(',').map(Number).filter((n) => n >= 0);
const REPEATS = Number(process.env.FERRY_BENCH_PARITY_REPEATS ?? 3);
/** A dump of 10 M rows takes minutes, and runAsync's default kills a command after 120 s; an hour bounds a stuck one. */
const COMMAND_TIMEOUT_MS = 60 * 60_000;

/** The floor: one hashing pass per table, every table on both sides at once; seconds. */
async function floor(servers: LocalPostgres[]): Promise<number> {
  const clients = await Promise.all(
    servers.flatMap((server) =>
      FIXTURE.map(async () => {
        const client = new pg.Client({ connectionString: server.connectionString });
        await client.connect();
        await client.query('set jit = off; set max_parallel_workers_per_gather = 0');
        return client;
      }),
    ),
  );
  try {
    const started = performance.now();
    await Promise.all(clients.map((client, i) => client.query(`select count(*), bit_xor(hash_record_extended(t, 0)) from ${FIXTURE[i % FIXTURE.length]!.name} t`)));
    return (performance.now() - started) / 1000;
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/** Runs a command with only PATH and `env` set; its stderr is passed on once it ends. */
async function exec(command: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const result = await runAsync(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeoutMs: COMMAND_TIMEOUT_MS });
  process.stderr.write(result.stderr);
  return result;
}

/** `pg_dump --data-only` of both sides in parallel, then `diff`; seconds and the dumps' bytes. */
async function dumpDiff(servers: LocalPostgres[], dir: string): Promise<{ seconds: number; bytes: number; differ: boolean }> {
  const files = servers.map((_, i) => join(dir, `side${i}.sql`));
  const started = performance.now();
  await Promise.all(
    servers.map((server, i) =>
      exec(join(POSTGRES_BIN, 'pg_dump'), ['--data-only', '--restrict-key=ferrybench', '--dbname', withoutPassword(server.connectionString), '--file', files[i]!], { PGPASSWORD: server.password }),
    ),
  );
  const { code } = await exec('sh', ['-c', 'diff "$0" "$1" > /dev/null', files[0]!, files[1]!], {});
  const seconds = (performance.now() - started) / 1000;
  const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
  for (const file of files) rmSync(file, { force: true });
  return { seconds, bytes, differ: code === 1 };
}

/** `ferry data parity -o json` as a user runs it (process start included); seconds and its report. */
async function ferryCommand(servers: LocalPostgres[]): Promise<{ seconds: number; report: ParityReport }> {
  const started = performance.now();
  const out = await exec(process.execPath, [join(REPO, 'bin/ferry.js'), 'data', 'parity', '--name', 'bench', '-o', 'json'], {
    FERRY_SOURCE_URL: servers[0]!.connectionString,
    FERRY_TARGET_URL: servers[1]!.connectionString,
    HOME: process.env.HOME ?? '/tmp',
  });
  return { seconds: (performance.now() - started) / 1000, report: JSON.parse(out.stdout) as ParityReport };
}

function exactKeys(report: ParityReport, expected: ReturnType<typeof differences>['expected']): boolean {
  const id = (d: { table: string; key: string[]; kind: string }) => `${d.kind} ${d.table} ${JSON.stringify(d.key)}`;
  const found = report.differences.map(id).sort();
  const wanted = expected.map(id).sort();
  return found.length === wanted.length && found.every((f, i) => f === wanted[i]);
}

async function sizeCase(total: number): Promise<void> {
  const settings = { shared_buffers: "'1GB'", max_wal_size: "'4GB'", checkpoint_timeout: "'30min'" };
  const servers = await Promise.all([startLocalPostgres({ name: 'ferry-bench-pa', settings }), startLocalPostgres({ name: 'ferry-bench-pb', settings })]);
  const dir = mkdtempSync(join(tmpdir(), 'ferry-parity-bench-'));
  const data = new PostgresDataProvider({ name: 'bench', source: { url: servers[0]!.connectionString }, target: { url: servers[1]!.connectionString } });
  try {
    const loadStarted = performance.now();
    await Promise.all(servers.map((server) => loadFixture(server.connectionString, total)));
    section(`${total.toLocaleString('en')} rows over ${FIXTURE.length} tables (2 schemas; bigint, composite, text and uuid keys; TOASTed documents), loaded in ${((performance.now() - loadStarted) / 1000).toFixed(0)} s`);
    for (const count of DIFFS) {
      const diff = differences(total, count);
      await sql(servers[1]!.connectionString, diff.apply);
      const floors: number[] = [];
      const inProcess: number[] = [];
      const commands: number[] = [];
      const dumps: number[] = [];
      let last: ParityReport | undefined;
      let command: ParityReport | undefined;
      let dumpBytes = 0;
      let dumpDiffers = false;
      for (let r = 0; r < REPEATS; r++) {
        floors.push(await floor(servers));
        const started = performance.now();
        last = await data.parity();
        inProcess.push((performance.now() - started) / 1000);
        const cli = await ferryCommand(servers);
        commands.push(cli.seconds);
        command = cli.report;
        const dump = await dumpDiff(servers, dir);
        dumps.push(dump.seconds);
        dumpBytes = dump.bytes;
        dumpDiffers = dump.differ;
      }
      const f = percentile(floors, 50);
      const p = percentile(inProcess, 50);
      const c = percentile(commands, 50);
      const d = percentile(dumps, 50);
      const exact = exactKeys(last!, diff.expected) && exactKeys(command!, diff.expected);
      process.stdout.write(`\n  ${count} differing rows (${new Set(diff.expected.map((e) => e.table)).size} tables): Ferry named ${last!.differences.length}, ${exact ? 'exactly the differing keys' : 'NOT exactly the differing keys'}; diff of the dumps ${dumpDiffers ? 'differs' : 'is empty'}\n`);
      report({ name: `parity in the process (${last!.queries} queries)`, value: p, unit: 's', compare: { kind: 'reference', label: 'floor', value: f, lowerIsBetter: true } });
      if (count === 10) report({ name: 'parity in the process, target 1.5× the floor', value: p, unit: 's', compare: { kind: 'target', label: '1.5× floor', value: 1.5 * f, lowerIsBetter: true } });
      report({ name: 'ferry data parity, whole command (process start incl.)', value: c, unit: 's', compare: { kind: 'reference', label: 'dump+diff', value: d, lowerIsBetter: true } });
      report({ name: 'parity in the process vs dump+diff', value: p, unit: 's', compare: { kind: 'reference', label: 'dump+diff', value: d, lowerIsBetter: true } });
      if (count === 10) report({ name: 'whole command, target dump+diff / 1.5', value: c, unit: 's', compare: { kind: 'target', label: 'dump+diff/1.5', value: d / 1.5, lowerIsBetter: true } });
      report({ name: 'bytes received from the servers', value: last!.bytesReceived ?? 0, unit: 'B', compare: { kind: 'reference', label: 'dumps', value: dumpBytes, lowerIsBetter: true } });
      report({ name: 'locate queries (after the scan)', value: last!.locateQueries, unit: 'queries' });
      if (count > 0) report({ name: 'locate queries per differing row', value: last!.locateQueriesPerDifference ?? 0, unit: 'queries/row' });
      report({ name: 'exactly the differing keys named (1 = yes)', value: exact ? 1 : 0, unit: '' });
      await sql(servers[1]!.connectionString, diff.undo);
    }
  } finally {
    await data.close();
    rmSync(dir, { recursive: true, force: true });
    await Promise.all(servers.map((server) => server.stop()));
  }
}

for (const size of SIZES) await sizeCase(size);
