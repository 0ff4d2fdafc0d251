import type { Command } from 'commander';
import { renderScorecard } from '../../demo/scorecard.js';
import { runDemo } from '../../demo/demo.js';
import { color } from '../../util/color.js';
import { parseOutputFormat, printResult } from '../context.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('migrate a shop on PostgreSQL between two local lab clusters under load, and print the scorecard')
    .option('--dir <dir>', 'where the kubeconfig, plan and journal are kept', '.ferry/demo')
    .option('--rate <n>', 'customer requests per second', '100')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const started = Date.now();
      const card = await runDemo({
        dir: options.dir,
        rate: Number(options.rate),
        onProgress: (message) => process.stderr.write(`${color().dim(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`)} ${message}\n`),
      });
      printResult(format, card, () => renderScorecard(card));
      if (!card.passed) process.exitCode = 1;
    });
}
