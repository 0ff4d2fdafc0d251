import type { Command } from 'commander';
import { parseOutputFormat, printResult as printPlain } from '../context.js';
import { FerryError } from '../../util/errors.js';
import { PostgresDataProvider } from '../../data/postgres/provider.js';
import { DEFAULT_CHUNK_ROWS, DEFAULT_CONCURRENCY } from '../../data/postgres/parity.js';
import type { CheckReport, ParityReport, SwitchoverReport, SyncStatus } from '../../data/provider.js';
import { parseHostPort, startEndpointService } from '../../data/endpoint-admin.js';
import { Redactor } from '../../data/redact.js';

interface DataOptions {
  source?: string;
  target?: string;
  sourceReplicationUrl?: string;
  targetReplicationUrl?: string;
  name: string;
  schema?: string[];
  output: string;
}

const FORMATS = ['table', 'json', 'yaml'] as const;

/** Results are printed redacted too (a server's text inside a report could echo a conninfo), with the running command's secrets. */
let redactor = new Redactor();
const printResult: typeof printPlain = (format, value, text) => printPlain(format, redactor.value(value), () => redactor.value(text()));

function provider(options: DataOptions): PostgresDataProvider {
  const source = options.source ?? process.env.FERRY_SOURCE_URL;
  const target = options.target ?? process.env.FERRY_TARGET_URL;
  if (!source || !target) {
    throw new FerryError('usage', `missing ${!source ? '--source' : '--target'} connection string`, {
      fix: 'pass --source/--target or set FERRY_SOURCE_URL/FERRY_TARGET_URL (postgresql://user:password@host:port/db)',
    });
  }
  return new PostgresDataProvider({
    name: options.name,
    source: { url: source, replicationUrl: options.sourceReplicationUrl },
    target: { url: target, replicationUrl: options.targetReplicationUrl },
    schemas: options.schema,
  });
}

/** Adds the connection flags every `ferry data` command shares, and runs the action with a provider it closes. */
function dataCommand<T extends DataOptions>(
  parent: Command,
  name: string,
  description: string,
  action: (p: PostgresDataProvider, options: T, format: (typeof FORMATS)[number]) => Promise<void>,
): Command {
  return parent
    .command(name)
    .description(description)
    .option('--source <url>', 'source connection string (default $FERRY_SOURCE_URL)')
    .option('--target <url>', 'target connection string (default $FERRY_TARGET_URL)')
    .option('--source-replication-url <url>', 'how the target reaches the source for replication (default --source)')
    .option('--target-replication-url <url>', 'how the source reaches the target for replication (default --target)')
    .option('--name <name>', 'sync name (names the replication objects ferry_<name>_s2t/_t2s)', 'default')
    .option('--schema <schema...>', 'schemas to move (default: all user schemas)')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(async (options: T) => {
      const format = parseOutputFormat(options.output, FORMATS);
      const p = provider(options);
      redactor = p.redactor;
      try {
        await action(p, options, format);
      } catch (error) {
        // The one place every `ferry data` error leaves: no password in it, whatever raised it.
        throw p.redactor.error(error);
      } finally {
        await p.close();
      }
    });
}

export function register(program: Command): void {
  const data = program.command('data').description('move a PostgreSQL database: check, sync, parity, cutover, failback, teardown');

  dataCommand(data, 'check', 'check both databases are ready for logical replication both ways', async (p, _o, format) => {
    const report = await p.check();
    printResult(format, report, () => checkTable(report));
    if (!report.ok) process.exitCode = 1;
  });

  dataCommand<DataOptions & { copy?: boolean }>(data, 'schema', 'diff the schemas (tables, columns, constraints, indexes, sequences)', async (p, options, format) => {
    const report = await p.prepare({ copySchema: options.copy });
    printResult(format, report, () =>
      report.differences.length === 0
        ? `schemas match (${report.tables.length} tables)${report.schemaCopied ? ', schema copied to the target' : ''}\n`
        : { headers: ['KIND', 'OBJECT', 'CHANGE', 'SOURCE', 'TARGET'], rows: report.differences.map((d) => [d.kind, d.object, d.change, d.source ?? '', d.target ?? '']) },
    );
    if (report.differences.length > 0) process.exitCode = 1;
  }).option('--copy', 'copy the schema to the target first (pg_dump --schema-only) if it has none of it');

  dataCommand<DataOptions & { copySchema?: boolean; wait?: boolean; maxLag: string; timeout: string }>(
    data,
    'sync',
    'start replication source → target with an initial copy',
    async (p, options, format) => {
      if (options.copySchema) await p.prepare({ copySchema: true });
      let status = await p.startSync();
      if (options.wait) {
        // Loaded here, like client-access below: `ferry data parity` starts without them (~0.15 s of CPU).
        const { default: cliProgress } = await import('cli-progress');
        const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'initial copy {bar} {value}/{total} tables ready  lag {lag}' }, cliProgress.Presets.shades_classic) : null;
        bar?.start(Math.max(1, status.tables.length), 0, { lag: '-' });
        try {
          status = await p.waitForSync({
            maxLagSeconds: Number(options.maxLag),
            timeoutMs: Number(options.timeout) * 1000,
            onProgress: (s) => bar?.update(s.tables.filter((t) => t.state === 'ready').length, { lag: s.lag?.seconds == null ? '-' : `${(s.lag.seconds * 1000).toFixed(1)} ms` }),
          });
        } finally {
          bar?.stop();
        }
      }
      printResult(format, status, () => statusText(status));
    },
  )
    .option('--copy-schema', 'copy the schema first (pg_dump --schema-only) when the target has none')
    .option('--wait', 'wait for the initial copy and for the lag to drop under --max-lag')
    .option('--max-lag <seconds>', 'lag to wait for', '1')
    .option('--timeout <seconds>', 'give up waiting after this long', '600');

  dataCommand(data, 'status', 'initial copy progress per table and replication lag', async (p, _o, format) => {
    const status = await p.status();
    printResult(format, status, () => statusText(status));
  });

  dataCommand<DataOptions & { chunkRows: string; hash: string; connections: string }>(data, 'parity', 'compare every row by key-range checksums and name the keys that differ', async (p, options, format) => {
    const concurrency = Number(options.connections);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new FerryError('usage', `--connections must be a positive whole number, not "${options.connections}"`, { location: { field: '--connections' }, fix: 'e.g. --connections 4' });
    }
    const report = await p.parity({ chunkRows: Number(options.chunkRows), hash: options.hash === 'text' ? 'text' : 'record', concurrency });
    printResult(format, report, () => parityText(report));
    if (!report.ok) process.exitCode = 1;
  })
    .option('--chunk-rows <n>', 'rows per checksum chunk', String(DEFAULT_CHUNK_ROWS))
    .option('--hash <kind>', 'record (typed hash where as strict as text; default) or text (always the row text)', 'record')
    .option('--connections <n>', 'connections per side the scan runs on (each server works on that many chunks at once)', String(DEFAULT_CONCURRENCY));

  const switchCommand = (name: 'cutover' | 'failback', description: string) =>
    dataCommand<DataOptions & { drainTimeout: string; lockTimeout: string; maxWritePause: string; parity: boolean; endpoint?: string; endpointTokenEnv: string }>(data, name, description, async (p, options, format) => {
      const maxWritePauseMs = Number(options.maxWritePause);
      if (!Number.isFinite(maxWritePauseMs) || maxWritePauseMs <= 0) {
        throw new FerryError('usage', `--max-write-pause must be a positive number of milliseconds, not "${options.maxWritePause}"`, { fix: 'e.g. --max-write-pause 1000' });
      }
      const access = options.endpoint ? (await import('../../data/client-access/index.js')).createClientAccess({ type: 'endpoint', adminUrl: options.endpoint, tokenEnv: options.endpointTokenEnv }) : undefined;
      const opts = {
        drainTimeoutMs: Number(options.drainTimeout) * 1000,
        lockTimeoutMs: Number(options.lockTimeout),
        maxWritePauseMs,
        finalParity: options.parity,
        ...(access ? { pointApplications: (side: 'source' | 'target') => access.pointTo(side) } : {}),
      };
      const report = name === 'cutover' ? await p.cutover(opts) : await p.reverse(opts);
      printResult(format, report, () => switchText(report));
      if (report.parity && !report.parity.ok) process.exitCode = 1;
    })
      .option('--drain-timeout <seconds>', 'abort (and unfreeze) if replication does not drain within this', '30')
      .option('--lock-timeout <ms>', 'longest one freeze attempt may queue writers', '500')
      .option('--max-write-pause <ms>', 'longest write pause (the plan\'s data.maxWritePause): an attempt that would exceed it gives the writes back and is retried', '1000')
      .option('--no-parity', 'skip the final parity on the frozen snapshots')
      .option('--endpoint <admin-url>', 'admin API of a `ferry data endpoint` the applications connect through: re-pointed inside the pause')
      .option('--endpoint-token-env <name>', 'environment variable holding that endpoint\'s admin token', 'FERRY_ENDPOINT_TOKEN');
  switchCommand('cutover', 'freeze the source, drain, copy sequences, replicate back target → source, open the target');
  switchCommand('failback', 'the same the other way: freeze the target, drain, open the source again');

  data
    .command('endpoint')
    .description('run a database endpoint the applications connect to, which Ferry re-points from source to target at cutover (data.clientAccess.type: endpoint)')
    .requiredOption('--listen <host:port>', 'where the applications connect (port 0: any free port)')
    .requiredOption('--source <host:port>', 'the source database')
    .requiredOption('--target <host:port>', 'the target database')
    .requiredOption('--admin <host:port>', 'admin API, loopback only (GET/PUT /side)')
    .option('--side <side>', 'side served at start, unless --state-file says otherwise', 'source')
    .option('--token-env <name>', 'environment variable holding the admin API\'s bearer token (unset: read-only)', 'FERRY_ENDPOINT_TOKEN')
    .option('--state-file <file>', 'keeps the side across restarts')
    .option('-o, --output <format>', 'table or json (the startup summary)', 'table')
    .action(async (options: { listen: string; source: string; target: string; admin: string; side: string; tokenEnv: string; stateFile?: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      if (options.side !== 'source' && options.side !== 'target') throw new FerryError('usage', `--side must be source or target, not "${options.side}"`, { location: { field: '--side' } });
      const side = options.side;
      const token = process.env[options.tokenEnv] || undefined;
      const service = await startEndpointService({
        listen: parseHostPort(options.listen, '--listen'),
        admin: parseHostPort(options.admin, '--admin'),
        sides: { source: parseHostPort(options.source, '--source'), target: parseHostPort(options.target, '--target') },
        side,
        token,
        stateFile: options.stateFile,
      });
      const summary = { listen: `${service.listen.host}:${service.listen.port}`, adminUrl: service.adminUrl, side: service.side(), adminWritable: token !== undefined };
      printResult(format, summary, () => `database endpoint on ${summary.listen} → ${summary.side}; admin API on ${summary.adminUrl}${token ? '' : ` (read-only: ${options.tokenEnv} is not set)`}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await service.close();
    });

  dataCommand(data, 'teardown', 'drop the subscriptions, publications and replication slots of this sync', async (p, _o, format) => {
    const report = await p.teardown();
    printResult(format, report, () => `${report.dropped.map((d) => `dropped ${d}`).join('\n')}${report.dropped.length ? '\n' : ''}${report.leftovers.length === 0 ? 'no replication objects left' : `LEFT: ${report.leftovers.join(', ')}`}\n`);
    if (report.leftovers.length > 0) process.exitCode = 1;
  });
}

function checkTable(report: CheckReport) {
  return {
    headers: ['CHECK', 'RESULT', 'MESSAGE', 'FIX'],
    rows: report.items.map((i) => [i.id, i.ok ? 'ok' : i.severity === 'warning' ? 'warn' : 'FAIL', i.message, i.fix ?? '']),
  };
}

function statusText(status: SyncStatus): string {
  if (!status.exists) return 'nothing is replicating (run `ferry data sync`)\n';
  const lines = status.tables.map((t) => `  ${t.table.padEnd(40)} ${t.state.padEnd(8)} ${mb(t.targetBytes)} / ${mb(t.sourceBytes)}`);
  const lag = status.lag
    ? `lag ${status.lag.seconds == null ? 'unknown' : `${(status.lag.seconds * 1000).toFixed(1)} ms`}, ${status.lag.bytes ?? '?'} bytes; apply errors ${status.lag.applyErrors}`
    : 'lag: initial copy in progress';
  return `${status.direction} ${status.enabled ? 'enabled' : 'DISABLED'}, ${status.allReady ? 'all tables ready' : 'copying'}\n${lines.join('\n')}\n${lag}\n`;
}

function parityText(report: ParityReport): string {
  const tables = report.tables.map((t) => `  ${t.table.padEnd(40)} ${String(t.sourceRows).padStart(10)} ${String(t.targetRows).padStart(10)}  ${t.mismatchedChunks}/${t.chunks} chunks differ`);
  const diffs = report.differences.slice(0, 50).map((d) => `  ${d.kind.padEnd(8)} ${d.table} (${d.key.join(', ')})`);
  return [
    `parity ${report.ok ? 'OK' : 'FAILED'}: ${report.rows} rows in ${report.seconds.toFixed(2)} s (${Math.round(report.rowsPerSecond)} rows/s), ${report.queries} queries, ${report.consistency}`,
    `  locate: ${report.locateQueries} queries${report.locateQueriesPerDifference != null ? ` (${report.locateQueriesPerDifference.toFixed(1)} per differing row)` : ''}${report.bytesReceived !== undefined ? `; ${(report.bytesReceived / 1024).toFixed(0)} KiB received from the servers` : ''}${report.connectionsPerSide ? `; ${report.connectionsPerSide} connections per side` : ''}`,
    `  ${'table'.padEnd(40)} ${'source'.padStart(10)} ${'target'.padStart(10)}`,
    ...tables,
    ...(diffs.length > 0 ? ['differences:', ...diffs] : []),
    ...(report.differences.length > 50 ? [`  … ${report.differences.length - 50} more (-o json lists all)`] : []),
    '',
  ].join('\n');
}

function switchText(report: SwitchoverReport): string {
  if (report.alreadyDone) return `already done: writes go to the ${report.to}, replication ${report.reverseDirection} runs back to the ${report.from}\n`;
  return [
    `writes moved ${report.from} → ${report.to}; write pause ${report.writePauseMs.toFixed(0)} ms; ${report.sequencesCopied} sequences copied; replication ${report.reverseDirection} runs back`,
    ...(report.pauseOverLimitMs > 0 ? [`WARNING: the pause went ${report.pauseOverLimitMs.toFixed(0)} ms over --max-write-pause ${report.maxWritePauseMs} ms in its last two commits`] : []),
    ...(report.givenBack.length > 0 ? [`  before it: ${report.givenBack.length} attempt(s) would have exceeded the write pause limit and gave the writes back (${report.givenBack.map((g) => `${g.pauseMs.toFixed(0)} ms at ${g.step}`).join(', ')})`] : []),
    ...(report.lockAttempts - 1 - report.givenBack.length > 0 ? [`  before it: ${report.lockAttempts - 1 - report.givenBack.length} freeze attempt(s) timed out, writers queued ${report.failedFreezeMs.toFixed(0)} ms in all, then went on`] : []),
    ...report.steps.map((s) => `  ${s.step.padEnd(32)} ${s.ms.toFixed(1)} ms`),
    report.parity ? `final parity ${report.parity.ok ? 'OK' : 'FAILED'} at the frozen point: ${report.parity.rows} rows, ${report.parity.differences.length} differences` : 'final parity skipped',
    '',
  ].join('\n');
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
