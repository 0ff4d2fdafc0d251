import type { Command } from 'commander';
import { loadPlan } from '../../plan/load.js';
import { runnableProblems } from '../../plan/runnable.js';
import { validatePlanMeaning } from '../../plan/validate.js';
import { color } from '../../util/color.js';
import { parseOutputFormat, printResult } from '../context.js';

export function register(program: Command): void {
  program
    .command('validate <plan>')
    .description('check a plan: schema, meaning (unknown slices, weights, duplicates, cycles), and everything `ferry run` would refuse')
    .addHelpText('after', '\nThe run checks are those `ferry run` makes before it touches anything, with the same messages.\nAn env: variable unset here is a warning, not an error: the plan may run on another machine.\nExit code: 1 when there is an error.\n')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((file: string, options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const loaded = loadPlan(file);
      const checks = [...validatePlanMeaning(loaded.plan), ...runnableProblems(loaded.plan, { env: process.env, unsetEnv: 'warning' })];
      const problems = checks.map((problem) => ({ ...problem, ...loaded.positionOf(problem.path), file }));
      const errors = problems.filter((problem) => problem.severity === 'error').length;
      printResult(format, { file, valid: errors === 0, problems: problems.map(({ path: _path, ...rest }) => rest) }, () => {
        const c = color();
        if (problems.length === 0) return `${c.green('valid')}: ${file}\n`;
        const lines = problems
          .map((p) => `${p.file}:${p.line}:${p.column}: ${p.severity === 'error' ? c.red('error') : c.yellow('warning')}: ${p.field}: ${p.message} (fix: ${p.fix})\n`)
          .join('');
        return errors === 0 ? `${lines}${c.green('valid')}: ${file} (${problems.length} warning${problems.length === 1 ? '' : 's'})\n` : lines;
      });
      if (errors > 0) process.exitCode = 1;
    });
}
