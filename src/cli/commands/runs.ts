import type { Command } from 'commander';
import { readJournal } from '../../journal/journal.js';
import { deriveRunState } from '../../run/state.js';
import { listRuns, openRun, requestControl, stateDir } from '../../run/store.js';
import type { RunState } from '../../run/model.js';
import { color } from '../../util/color.js';
import { FerryError } from '../../util/errors.js';
import { renderTable } from '../../util/output.js';
import { parseOutputFormat, printResult } from '../context.js';

/** Commands that read a run or leave it a request: status, pause, approve, abort, audit verify. */
export function register(program: Command): void {
  program
    .command('status [run]')
    .description('show a run (the latest by default): slices, stages, weights, approvals')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('--all', 'list every run')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((id: string | undefined, options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const root = stateDir(options.stateDir);
      if (options.all) {
        const runs = listRuns(root).map((run) => {
          const { files, plan } = openRun(root, run);
          const state = deriveRunState(run, plan, readJournal(files.journal).records);
          return { id: run, plan: state.plan, status: state.status, startedAt: state.startedAt, endedAt: state.endedAt };
        });
        printResult(format, runs, () => ({ headers: ['RUN', 'PLAN', 'STATUS', 'STARTED', 'ENDED'], rows: runs.map((r) => [r.id, r.plan, r.status, r.startedAt ?? '', r.endedAt ?? '']) }));
        return;
      }
      const { files, plan } = openRun(root, id);
      const state = deriveRunState(files.id, plan, readJournal(files.journal).records);
      printResult(format, state, () => renderState(state));
    });

  for (const [name, description] of [['pause', 'stop a run at the next step boundary (resume with `ferry resume`)'], ['abort', 'stop a run for good at the next step boundary (then `ferry rollback`)']] as const) {
    program
      .command(`${name} [run]`)
      .description(description)
      .option('--state-dir <dir>', 'where runs are kept')
      .option('-o, --output <format>', 'table or json', 'table')
      .action((id: string | undefined, options) => {
        const format = parseOutputFormat(options.output, ['table', 'json'] as const);
        const { files } = openRun(stateDir(options.stateDir), id);
        requestControl(files, { action: name });
        printResult(format, { run: files.id, requested: name }, () => `${name} requested for run ${files.id}\n`);
      });
  }

  program
    .command('approve <run> <slice>')
    .description('approve a slice that names approvers: its ramp (or, without traffic, its data cutover, else its decommission) waits for this')
    .option('--as <name>', 'who approves (journaled)', process.env.USER ?? 'unknown')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((id: string, slice: string, options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      const known = plan.spec.waves.flatMap((wave) => wave.slices);
      const target = known.find((s) => s.name === slice);
      if (!target) throw new FerryError('usage', `no slice "${slice}" in run ${files.id}`, { fix: `use one of: ${known.map((s) => s.name).join(', ')}` });
      if (target.approvers?.length && !target.approvers.includes(options.as)) {
        throw new FerryError('approval', `${options.as} is not an approver of slice ${slice}`, { fix: `ask one of: ${target.approvers.join(', ')}` });
      }
      requestControl(files, { action: 'approve', slice, by: options.as });
      printResult(format, { run: files.id, requested: 'approve', slice, by: options.as }, () => `approval of ${slice} by ${options.as} recorded for run ${files.id}\n`);
    });

  const audit = program.command('audit').description('the tamper-evident trail of a run');
  audit
    .command('verify [run]')
    .description('check that no journal record was edited, removed or reordered')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((id: string | undefined, options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { files } = openRun(stateDir(options.stateDir), id);
      const { verify } = readJournal(files.journal);
      printResult(format, { run: files.id, journal: files.journal, ...verify }, () =>
        verify.ok
          ? `${color().green('intact')}: ${verify.records} records, last hash ${verify.lastHash}\n`
          : `${color().red('BROKEN')} at record ${verify.brokenAt!.seq} (${files.journal}:${verify.brokenAt!.line}): ${verify.brokenAt!.reason}\n`);
      if (!verify.ok) process.exitCode = 1;
    });
}

function renderState(state: RunState): string {
  const c = color();
  const paint = (status: string) => (status === 'done' ? c.green(status) : status === 'failed' ? c.red(status) : status === 'running' ? c.yellow(status) : c.dim(status));
  const header = `run ${c.bold(state.id)} (plan ${state.plan}): ${state.status}${state.awaitingApproval.length ? ` — waiting for approval of ${state.awaitingApproval.join(', ')}` : ''}\n`;
  const table = renderTable(
    ['WAVE', 'SLICE', 'WEIGHT', 'APPLY', 'DATA', 'SHADOW', 'RAMP', 'CUTOVER', 'DECOMMISSION', 'NOTE'],
    state.slices.map((s) => [
      s.wave, s.name, `${s.weight}%`, paint(s.stages.apply), paint(s.stages['data-sync']), paint(s.stages.shadow), paint(s.stages.ramp),
      paint(s.stages['data-cutover']), paint(s.stages.decommission), s.rolledBack ? 'rolled back' : s.lastError ?? '',
    ]),
  );
  return header + table;
}
