import type { Command } from 'commander';
import { Journal } from '../../journal/journal.js';
import { loadPlan } from '../../plan/load.js';
import { validatePlanMeaning } from '../../plan/validate.js';
import { executeRun } from '../../run/engine.js';
import { planEnvironment } from '../../run/environment.js';
import { rollbackRun } from '../../run/rollback.js';
import { deriveRunState } from '../../run/state.js';
import { acquireLock, createRun, openRun, stateDir, takeControlRequests, type RunFiles } from '../../run/store.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { color } from '../../util/color.js';
import { FerryError } from '../../util/errors.js';
import { globalOptions, parseOutputFormat, printResult } from '../context.js';

/** run, resume and rollback: the commands that drive a run (one process at a time, under its lock). */
export function register(program: Command): void {
  program
    .command('run <plan>')
    .description('execute a plan: apply, sync data, shadow, ramp, cut over, decommission — journaled and resumable')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const { plan } = loadPlan(file);
      const errors = validatePlanMeaning(plan).filter((p) => p.severity === 'error');
      if (errors.length > 0) throw new FerryError('plan', `${errors[0]!.field}: ${errors[0]!.message}`, { location: { file }, fix: `${errors[0]!.fix} (\`ferry validate ${file}\` lists all)` });
      const files = createRun(stateDir(options.stateDir), plan);
      process.stderr.write(`run ${files.id} started; journal ${files.journal}\n`);
      await drive(files, plan, command, options.output, 'run');
    });

  program
    .command('resume [run]')
    .description('continue a run (the latest by default) from where it stopped')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (id: string | undefined, options, command: Command) => {
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      await drive(files, plan, command, options.output, 'run');
    });

  program
    .command('rollback [run]')
    .description('take every slice of a run back to the source: traffic, data (no write lost), target workloads')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (id: string | undefined, options, command: Command) => {
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      await drive(files, plan, command, options.output, 'rollback');
    });
}

async function drive(files: RunFiles, plan: MigrationPlan, command: Command, output: string, mode: 'run' | 'rollback'): Promise<void> {
  const format = parseOutputFormat(output, ['table', 'json'] as const);
  const release = acquireLock(files);
  const journal = Journal.open(files.journal);
  const kubeconfig = globalOptions(command).kubeconfig;
  const env = planEnvironment(plan, {
    ...(kubeconfig ? { kubeconfig } : {}),
    onProgress: ({ slice, stage, detail }) => process.stderr.write(`${color().dim(new Date().toISOString())} ${slice}: ${stage}${detail ? ` ${detail}` : ''}\n`),
    control: async () => takeControlRequests(files),
  });
  // An interrupt leaves the journal consistent (every record is whole and fsync'd); say how to go on.
  const onSignal = () => {
    process.stderr.write(`\ninterrupted: \`ferry resume ${files.id}\` continues, \`ferry rollback ${files.id}\` goes back\n`);
    release();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Every slice's services are built before anything moves: a plan that cannot be run
    // (provider without settings, unset secrets) fails here, not half-way.
    for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) await env.servicesFor(slice.name);
    if (mode === 'run') await executeRun(files.id, plan, journal, env);
    else await rollbackRun(files.id, plan, journal, env);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    journal.close();
    release();
  }
  const state = deriveRunState(files.id, plan, journal.records);
  printResult(format, state, () => `run ${state.id}: ${state.status}\n`);
  if (state.status !== 'completed' && state.status !== 'rolled-back') process.exitCode = 1;
}
