import type { Command } from 'commander';
import { loadPlan } from '../../plan/load.js';
import { resumeRun, rollBackRun, startRun, watchTogether, type DriveOptions, type DriveResult } from '../../run/drive.js';
import { DEFAULT_PARALLEL } from '../../run/engine.js';
import { stateDir } from '../../run/store.js';
import { color } from '../../util/color.js';
import { FerryError } from '../../util/errors.js';
import { globalOptions, parseOutputFormat, parsePort, printResult, printStageProgress, stderrLine } from '../context.js';
import { addJournalTrustOptions, journalTrustConfig } from '../journal-options.js';

/** run, resume and rollback: the commands that drive a run (one process at a time, under its lock). */
export function register(program: Command): void {
  addJournalTrustOptions(program
    .command('run <plan>')
    .description('execute a plan: apply, sync data, shadow, ramp, cut over, decommission — journaled and resumable')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('--parallel <n>', `slices of one wave run at once (default ${DEFAULT_PARALLEL})`)
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--metrics-port <port>', 'serve the run\'s Prometheus metrics at http://HOST:PORT/metrics while it runs')
    .option('--metrics-host <host>', 'address --metrics-port listens on', '127.0.0.1')
    .option('--ui', 'serve the dashboard while this process drives the run (its URL, token included, on stderr)')
    .option('--ui-port <n>', 'port of --ui (default: any free one)')
    .addHelpText('after', '\nExamples:\n  ferry run plan.yaml\n  ferry run plan.yaml --parallel 1 -o json\n'))
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan, positionOf } = loadPlan(file);
      const result = await withUi(options, driveOptions(options, command), (options) => withInterrupt((drive) => startRun(plan, { ...drive, planFile: file, positionOf }), options));
      report(format, result);
    });

  addJournalTrustOptions(program
    .command('resume [run]')
    .description('continue a run (the latest by default) from where it stopped')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('--parallel <n>', `slices of one wave run at once (default ${DEFAULT_PARALLEL})`)
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--metrics-port <port>', 'serve the run\'s Prometheus metrics at http://HOST:PORT/metrics while it runs')
    .option('--metrics-host <host>', 'address --metrics-port listens on', '127.0.0.1')
    .option('--ui', 'serve the dashboard while this process drives the run (its URL, token included, on stderr)')
    .option('--ui-port <n>', 'port of --ui (default: any free one)'))
    .action(async (id: string | undefined, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      report(format, await withUi(options, driveOptions(options, command), (options) => withInterrupt((drive) => resumeRun(id, drive), options)));
    });

  addJournalTrustOptions(program
    .command('rollback [run]')
    .description('take every slice of a run (or of --wave/--slice) back to the source: source ready first, then traffic, data (no write lost), target workloads; slices left on the target reach them through bridges')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('--wave <n...>', 'roll back only these waves (numbers from 1)')
    .option('--slice <name...>', 'roll back only these slices')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--metrics-port <port>', 'serve the run\'s Prometheus metrics at http://HOST:PORT/metrics while it runs')
    .option('--metrics-host <host>', 'address --metrics-port listens on', '127.0.0.1'))
    .action(async (id: string | undefined, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const waves = (options.wave as string[] | undefined)?.map((text) => {
        const wave = Number(text);
        if (!Number.isInteger(wave) || wave < 1) throw new FerryError('usage', `--wave must be a wave number from 1, got "${text}"`, { location: { field: '--wave' }, fix: '--wave 2' });
        return wave;
      });
      const only = waves || options.slice ? { ...(waves ? { waves } : {}), ...(options.slice ? { slices: options.slice as string[] } : {}) } : undefined;
      report(format, await withInterrupt((drive) => rollBackRun(id, { ...drive, ...(only ? { only } : {}) }), driveOptions(options, command)), Boolean(only));
    });
}

function driveOptions(options: { stateDir?: string; parallel?: string; metricsPort?: string; metricsHost: string }, command: Command): DriveOptions & { metrics?: { port: number; host: string } } {
  const kubeconfig = globalOptions(command).kubeconfig;
  let parallel: number | undefined;
  if (options.parallel !== undefined) {
    parallel = Number(options.parallel);
    if (!Number.isInteger(parallel) || parallel < 1) throw new FerryError('usage', `--parallel must be a whole number of at least 1, got "${options.parallel}"`, { location: { field: '--parallel' }, fix: '--parallel 4' });
  }
  return {
    stateDir: stateDir(options.stateDir),
    journal: journalTrustConfig(command),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(parallel ? { parallel } : {}),
    ...(options.metricsPort !== undefined ? { metrics: { port: parsePort(options.metricsPort, '--metrics-port'), host: options.metricsHost } } : {}),
    onProgress: printStageProgress,
  };
}

/** `--ui`: the dashboard, loaded only when asked for (most runs never load the server). */
async function withUi<T extends DriveOptions, R>(options: { ui?: boolean; uiPort?: string }, drive: T, run: (options: T) => Promise<R>): Promise<R> {
  if (!options.ui) return run(drive);
  const { withDashboard } = await import('../../server/attach.js');
  return withDashboard({ ui: true, ...(options.uiPort !== undefined ? { port: parsePort(options.uiPort, '--ui-port') } : {}), log: stderrLine }, drive, run);
}

/** An interrupt leaves the journal consistent (every record is whole and fsync'd); it says how to go on. */
async function withInterrupt(run: (options: DriveOptions) => Promise<DriveResult>, { metrics: metricsAt, ...options }: DriveOptions & { metrics?: { port: number; host: string } }): Promise<DriveResult> {
  let id: string | undefined;
  // --metrics-port: the run's own figures, from its journal, served while this process drives it.
  const metricsModule = metricsAt ? await import('../../server/metrics.js') : undefined;
  const metrics = metricsModule ? new metricsModule.RunMetrics() : undefined;
  const served = metricsModule && metrics && metricsAt ? await metricsModule.serveMetrics(metrics, metricsAt) : undefined;
  if (served) process.stderr.write(`metrics at ${served.url}\n`);
  const onSignal = () => {
    process.stderr.write(id ? `\ninterrupted: \`ferry resume ${id}\` continues, \`ferry rollback ${id}\` goes back\n` : '\ninterrupted before the run started\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run({
      ...options,
      ...(metricsModule && metrics ? { onJournal: watchTogether(options.onJournal, metricsModule.observeJournal(metrics)) } : {}),
      onStarted: (files) => {
        id = files.id;
        process.stderr.write(`run ${files.id}; journal ${files.journal}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await served?.close();
  }
}

/** `partial`: a rollback of some slices succeeded when it raised no error, whatever the run's status. */
function report(format: 'table' | 'json', result: DriveResult, partial = false): void {
  const { state, error } = result;
  if (error && format === 'table') process.stderr.write(`${color().red('error')}: ${error.oneLine()}\n`);
  printResult(format, error ? { ...state, error: error.oneLine() } : state, () => `run ${state.id}: ${state.status}\n`);
  if (partial ? error !== undefined : state.status !== 'completed' && state.status !== 'rolled-back') process.exitCode = 1;
}
