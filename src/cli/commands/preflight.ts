import type { Command } from 'commander';
import { runPreflight } from '../../apply/preflight/index.js';
import { loadPlan } from '../../plan/load.js';
import { color } from '../../util/color.js';
import { renderTable } from '../../util/output.js';
import { addTargetContextOption, parseOutputFormat, printResult, targetClusterOptions } from '../context.js';

export function register(program: Command): void {
  addTargetContextOption(
    program
      .command('preflight <plan>')
      .description('compare source and target before anything moves: BLOCK rows stop the run'),
  )
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (file: string, options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { plan } = loadPlan(file);
      const report = await runPreflight(plan, targetClusterOptions(command));
      printResult(format, report, () => {
        const c = color();
        const paint = { BLOCK: c.red, WARN: c.yellow, OK: c.green } as const;
        const table = renderTable(['', 'CHECK', 'SUBJECT', 'FINDING', 'FIX'], report.rows.map((row) => [paint[row.severity](row.severity), row.check, row.subject, row.message, row.fix ?? '']));
        return `${table}\n${report.counts.BLOCK} BLOCK, ${report.counts.WARN} WARN, ${report.counts.OK} OK: ${report.blocked ? c.red('blocked') : c.green('ready to apply')}\n`;
      });
      if (report.blocked) process.exitCode = 1;
    });
}
