import type { Command } from 'commander';
import { planJsonSchema } from '../../plan/schema.js';
import { toJson } from '../../util/output.js';

export function register(program: Command): void {
  program
    .command('schema')
    .description('print the MigrationPlan JSON Schema (for editors and CI)')
    .option('-o, --output <format>', 'json', 'json')
    .action(() => {
      process.stdout.write(toJson(planJsonSchema()));
    });
}
