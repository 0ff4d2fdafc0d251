import type { Command } from 'commander';
import { recordsAsWritten } from '../../journal/journal.js';
import type { VerifyResult } from '../../journal/verify.js';
import { deriveRunState } from '../../run/state.js';
import { listRuns, openRun, requestControl, stateDir } from '../../run/store.js';
import { approverIdentity, assertApprover } from '../../run/approver.js';
import type { RunState } from '../../run/model.js';
import { color } from '../../util/color.js';
import { FerryError } from '../../util/errors.js';
import { renderTable } from '../../util/output.js';
import { addTargetContextOption, parseOutputFormat, printResult } from '../context.js';
import { addJournalTrustOptions } from '../journal-options.js';
import { journalSummary, journalWarning, journalWord, recordsToShow, verifyCommandJournal } from '../journal-verdict.js';

/** Commands that read a run or leave it a request: status, pause, approve, abort, audit verify. */
export function register(program: Command): void {
  addTargetContextOption(addJournalTrustOptions(program
    .command('status [run]')
    .description('show a run (the latest by default): slices, stages, weights, approvals; exits 1 when its journal does not verify')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('--all', 'list every run')
    .option('-o, --output <format>', 'table or json', 'table')))
    .action(async (id: string | undefined, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const root = stateDir(options.stateDir);
      if (options.all) {
        const runs: Array<{ id: string; plan: string; status: string; startedAt?: string | undefined; endedAt?: string | undefined; journal: string }> = [];
        for (const run of listRuns(root)) {
          const { files, plan } = openRun(root, run);
          const { verify } = await verifyCommandJournal(command, files, plan);
          const state = deriveRunState(run, plan, recordsAsWritten(files.journal));
          runs.push({ id: run, plan: state.plan, status: state.status, startedAt: state.startedAt, endedAt: state.endedAt, journal: journalWord(verify) });
          if (!verify.ok) process.exitCode = 1;
        }
        printResult(format, runs, () => ({ headers: ['RUN', 'PLAN', 'STATUS', 'STARTED', 'ENDED', 'JOURNAL'], rows: runs.map((r) => [r.id, r.plan, r.status, r.startedAt ?? '', r.endedAt ?? '', r.journal]) }));
        return;
      }
      const { files, plan } = openRun(root, id);
      const checked = await verifyCommandJournal(command, files, plan);
      const { verify } = checked;
      // A journal that does not verify is still shown, as what it claims, under a warning.
      const state = deriveRunState(files.id, plan, recordsToShow(files.journal, checked));
      const warning = journalWarning(files.journal, verify);
      if (format === 'json' && warning) process.stderr.write(warning);
      printResult(format, { ...state, journal: journalSummary(verify) }, () => warning + renderState(state));
      if (!verify.ok) process.exitCode = 1;
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
    .description('approve a slice that names approvers, as the Kubernetes user your credentials are on the target cluster: its ramp (or, without traffic, its data cutover, else its decommission) waits for this')
    .option('--context <name>', "kubeconfig context whose credentials say who you are (default: the plan's target context; it must point at the target cluster)")
    .option('--as <user>', 'only checks that you are this user (SelfSubjectReview decides who approves)')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')
    .addHelpText('after', '\nExamples:\n  ferry approve shop-20261130-041900 checkout\n  ferry approve shop-20261130-041900 checkout --context alice@prod\n')
    .action(async (id: string, slice: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      const known = plan.spec.waves.flatMap((wave) => wave.slices);
      const target = known.find((s) => s.name === slice);
      if (!target) throw new FerryError('usage', `no slice "${slice}" in run ${files.id}`, { fix: `use one of: ${known.map((s) => s.name).join(', ')}` });
      const { kubeconfig } = command.optsWithGlobals<{ kubeconfig?: string }>();
      const identity = await approverIdentity(plan, { ...(kubeconfig ? { kubeconfig } : {}), ...(options.context ? { context: options.context } : {}) });
      assertApprover(target, identity, options.as);
      requestControl(files, { action: 'approve', slice, by: identity.username });
      printResult(format, { run: files.id, requested: 'approve', slice, by: identity.username }, () => `approval of ${slice} by ${identity.username} (reviewed by ${identity.server}) recorded for run ${files.id}\n`);
    });

  const audit = program.command('audit').description('the tamper-evident trail of a run');
  addTargetContextOption(addJournalTrustOptions(audit
    .command('verify [run]')
    .description('check that no journal record was edited, removed or reordered: MACs with the journal key, and the head anchored outside the run directory')
    .option('--state-dir <dir>', 'where runs are kept')
    .option('-o, --output <format>', 'table or json', 'table')))
    .action(async (id: string | undefined, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      const { verify } = await verifyCommandJournal(command, files, plan);
      printResult(format, { run: files.id, journal: files.journal, ...verify }, () => auditLine(files.journal, verify));
      if (!verify.ok) process.exitCode = 1;
    });
}

function auditLine(file: string, verify: VerifyResult): string {
  const c = color();
  if (verify.brokenAt) return `${c.red('BROKEN')} at record ${verify.brokenAt.seq} (${file}:${verify.brokenAt.line}): ${verify.brokenAt.reason}\n`;
  if (verify.problem) return `${c.red('UNVERIFIED')}: ${verify.problem}\n`;
  if (!verify.keyed) {
    return `${c.yellow('intact but unkeyed')}: ${verify.records} records chained by plain SHA-256 (written before Ferry keyed its journals), so anyone could have rewritten them; last hash ${verify.lastHash}\n`;
  }
  const anchored = verify.anchor ? `; head anchored in ${verify.anchor.where} at record ${verify.anchor.count} (${verify.anchor.at})${verify.unanchored ? `, ${verify.unanchored} records written after it` : ''}` : '';
  const older = verify.unkeyedRecords ? ` (the first ${verify.unkeyedRecords} unkeyed, sealed by the MACs after them)` : '';
  return `${c.green('intact')}: ${verify.records} records${older}, MACs checked with key ${verify.key!.id} (${verify.key!.where})${anchored}; last hash ${verify.lastHash}\n`;
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
  // A held step's evidence: what the judge could not decide, and why.
  const held = state.slices.filter((s) => s.openGates?.length).map((s) => `${s.name}: undecided at ${s.weight}%: ${s.openGates!.map((g) => `${g.gate} (${g.reason})`).join('; ')}\n`);
  return header + table + held.join('');
}
