import type { Command } from 'commander';
import { loadPlan } from '../../plan/load.js';
import { validatePlanMeaning } from '../../plan/validate.js';
import { color } from '../../util/color.js';
import { parseOutputFormat, printResult } from '../context.js';

export function register(program: Command): void {
  program
    .command('validate <plan>')
    .description('check a plan: schema, then meaning (unknown slices, weights, duplicates, cycles)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((file: string, options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const loaded = loadPlan(file);
      const problems = validatePlanMeaning(loaded.plan).map((problem) => ({ ...problem, ...loaded.positionOf(problem.path), file }));
      const errors = problems.filter((problem) => problem.severity === 'error').length;
      printResult(format, { file, valid: errors === 0, problems: problems.map(({ path: _path, ...rest }) => rest) }, () => {
        const c = color();
        if (problems.length === 0) return `${c.green('valid')}: ${file}\n`;
        return problems
          .map((p) => `${p.file}:${p.line}:${p.column}: ${p.severity === 'error' ? c.red('error') : c.yellow('warning')}: ${p.field}: ${p.message} (fix: ${p.fix})\n`)
          .join('');
      });
      if (errors > 0) process.exitCode = 1;
    });
}
