import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { parseOutputFormat, printResult } from '../context.js';

export function register(program: Command): void {
  program
    .command('version')
    .description('print the version of ferry')
    .option('-o, --output <format>', 'text or json', 'table')
    .action((options: { output: string }) => {
      const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      printResult(format, { version }, () => `ferry ${version}\n`);
    });
}
