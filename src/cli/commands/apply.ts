import type { Command } from 'commander';
import { applySlice, type SliceApplyReport } from '../../apply/slice.js';
import { loadPlan } from '../../plan/load.js';
import { color } from '../../util/color.js';
import { addTargetContextOption, parseOutputFormat, printResult, targetClusterOptions } from '../context.js';
import { startProgress } from '../progress.js';

export function register(program: Command): void {
  addTargetContextOption(
    program
      .command('apply <plan>')
      .description('server-side apply a slice to the target in dependency order, wait until it is ready, run its smoke checks')
      .requiredOption('--slice <name>', 'the slice to apply'),
  )
    .option('--force-conflicts', 'take over fields another field manager owns on the target')
    .option('--dry-run', 'ask the server what would happen; change nothing')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan } = loadPlan(file);
      const progress = startProgress(`${options.slice}`);
      const report = await applySlice(plan, options.slice, {
        ...targetClusterOptions(command),
        force: Boolean(options.forceConflicts),
        dryRun: Boolean(options.dryRun),
        onProgress: (done, total, what, phase) => progress.update(done, total, `${phase === 'ready' ? 'ready' : 'applied'} · ${what}`),
      }).finally(() => progress.stop());
      printResult(format, report, () => renderReport(report, Boolean(options.dryRun)));
    });
}

function renderReport(report: SliceApplyReport, dryRun: boolean): string {
  const c = color();
  const paint = { created: c.green, configured: c.yellow, unchanged: c.dim } as const;
  const lines = report.objects.map((o) => `${paint[o.action](o.action.padEnd(10))} ${o.object}`);
  const smoke = report.smoke.map((s) => `${c.green('smoke ok'.padEnd(10))} ${s.name}: ${s.status} from ${s.url}`);
  const { created, configured, unchanged } = report.counts;
  const summary = `${created} created, ${configured} configured, ${unchanged} unchanged on ${report.target} in ${report.seconds.toFixed(1)} s${dryRun ? ' (dry run: nothing changed)' : ''}`;
  return `${[...lines, ...smoke, summary].join('\n')}\n`;
}
