import type { Command } from 'commander';
import { diffObjects, type ObjectDiff } from '../../apply/diff.js';
import { desiredObjects, findSlice, readPlanSource } from '../../apply/desired.js';
import { targetClient } from '../../apply/slice.js';
import { carryTrust } from '../../trust/index.js';
import { loadPlan } from '../../plan/load.js';
import { color } from '../../util/color.js';
import { addTargetContextOption, parseOutputFormat, printResult, targetClusterOptions } from '../context.js';

export function register(program: Command): void {
  addTargetContextOption(
    program
      .command('diff <plan>')
      .description('show what applying would create or change on the target, as a unified diff (Secret values redacted)')
      .option('--slice <name>', 'one slice (default: the whole plan)'),
  )
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan } = loadPlan(file);
      const cluster = targetClusterOptions(command);
      const inventory = await readPlanSource(plan, cluster.kubeconfig ? { kubeconfig: cluster.kubeconfig } : {});
      const slices = options.slice ? [findSlice(plan, options.slice)] : undefined;
      const planned = desiredObjects(plan, inventory, { ...(slices ? { slices } : {}), prerequisites: true });
      const client = targetClient(plan, cluster);
      // As apply writes them: SealedSecrets sealed for the target controller (src/trust/).
      const diffs = await carryTrust(plan, planned, client, cluster).then(({ desired }) => diffObjects(client, desired)).finally(() => client.close());
      printResult(format, diffs, () => renderDiff(diffs));
      if (diffs.some((d) => d.action === 'invalid')) process.exitCode = 1;
    });
}

function renderDiff(diffs: readonly ObjectDiff[]): string {
  const c = color();
  const out: string[] = [];
  for (const diff of diffs) {
    if (diff.action === 'unchanged') continue;
    if (diff.action === 'invalid') {
      out.push(c.red(`! ${diff.object}: the target would refuse it: ${diff.problem}`), '');
      continue;
    }
    out.push(c.bold(`${diff.action === 'create' ? '+' : '~'} ${diff.object}${diff.action === 'create' ? ' (create)' : ''}`));
    for (const conflict of diff.conflicts ?? []) out.push(c.red(`  conflict: ${conflict.field} is owned by "${conflict.manager}" (apply needs --force-conflicts)`));
    for (const line of diff.diff.trimEnd().split('\n')) {
      out.push(line.startsWith('+++') || line.startsWith('---') ? c.bold(line) : line.startsWith('@@') ? c.cyan(line) : line.startsWith('+') ? c.green(line) : line.startsWith('-') ? c.red(line) : line);
    }
    out.push('');
  }
  const count = (action: ObjectDiff['action']) => diffs.filter((d) => d.action === action).length;
  const invalid = count('invalid');
  out.push(`${count('create')} to create, ${count('change')} to change, ${count('unchanged')} unchanged${invalid ? `, ${invalid} refused` : ''}`);
  return `${out.join('\n')}\n`;
}
