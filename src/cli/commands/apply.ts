import type { Command } from 'commander';
import { applySlice, targetClient } from '../../apply/slice.js';
import { diffObjects, type ObjectDiff } from '../../apply/diff.js';
import { desiredObjects, findSlice, readPlanSource } from '../../apply/desired.js';
import { loadPlan } from '../../plan/load.js';
import { color } from '../../util/color.js';
import { toYamlText } from '../../util/output.js';
import { globalOptions, parseOutputFormat, printResult } from '../context.js';
import { startProgress } from '../progress.js';

export function register(program: Command): void {
  program
    .command('apply <plan>')
    .description('server-side apply a slice to the target, wait until it is ready, run its smoke checks')
    .requiredOption('--slice <name>', 'the slice to apply')
    .option('--target-context <name>', "override the plan's target context")
    .option('--force-conflicts', 'take over fields another field manager owns on the target')
    .option('--dry-run', 'ask the server what would happen; change nothing')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan } = loadPlan(file);
      const kubeconfig = globalOptions(command).kubeconfig;
      const progress = startProgress(`applying ${options.slice}`);
      const report = await applySlice(plan, options.slice, {
        ...(kubeconfig ? { kubeconfig } : {}),
        ...(options.targetContext ? { targetContext: options.targetContext } : {}),
        force: Boolean(options.forceConflicts),
        dryRun: Boolean(options.dryRun),
        onProgress: progress.update,
      }).finally(() => progress.stop());
      printResult(format, report, () => {
        const c = color();
        const paint = { created: c.green, configured: c.yellow, unchanged: c.dim } as const;
        const lines = report.objects.map((o) => `${paint[o.action](o.action.padEnd(10))} ${o.object}`);
        const smoke = report.smoke.map((s) => `smoke ${s.name}: ${s.status} ok`);
        return `${[...lines, ...smoke].join('\n')}\n${report.counts.created} created, ${report.counts.configured} configured, ${report.counts.unchanged} unchanged on ${report.target} in ${report.seconds.toFixed(1)} s${options.dryRun ? ' (dry run)' : ''}\n`;
      });
    });

  program
    .command('diff <plan>')
    .description('show what applying would create or change on the target (Secret values redacted)')
    .option('--slice <name>', 'one slice (default: the whole plan)')
    .option('--target-context <name>', "override the plan's target context")
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan } = loadPlan(file);
      const kubeconfig = globalOptions(command).kubeconfig;
      const inventory = await readPlanSource(plan, kubeconfig ? { kubeconfig } : {});
      const slices = options.slice ? [findSlice(plan, options.slice)] : undefined;
      const { desired } = desiredObjects(plan, inventory, { ...(slices ? { slices } : {}), prerequisites: true });
      const client = targetClient(plan, { ...(kubeconfig ? { kubeconfig } : {}), ...(options.targetContext ? { targetContext: options.targetContext } : {}) });
      const diffs = await diffObjects(client, desired);
      printResult(format, diffs, () => renderDiff(diffs));
    });
}

function renderDiff(diffs: ObjectDiff[]): string {
  const c = color();
  const out: string[] = [];
  for (const diff of diffs) {
    if (diff.action === 'create') {
      out.push(c.green(`+ ${diff.object} (create)`));
      out.push(...toYamlText(diff.created).trimEnd().split('\n').map((line) => c.green(`+   ${line}`)));
    } else if (diff.action === 'change') {
      out.push(c.yellow(`~ ${diff.object}`));
      for (const change of diff.changes) out.push(`    ${change.path}: ${JSON.stringify(change.before) ?? '(absent)'} → ${JSON.stringify(change.after) ?? '(removed)'}`);
    } else out.push(c.dim(`= ${diff.object}`));
  }
  const count = (action: ObjectDiff['action']) => diffs.filter((d) => d.action === action).length;
  out.push(`${count('create')} to create, ${count('change')} to change, ${count('unchanged')} unchanged`);
  return `${out.join('\n')}\n`;
}
