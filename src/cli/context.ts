import { Option, type Command } from 'commander';
import { color } from '../util/color.js';
import { FerryError } from '../util/errors.js';
import { renderTable, toJson, toYamlText, type OutputFormat } from '../util/output.js';

/** Options every command understands; commander puts them on the root program. */
export interface GlobalOptions {
  kubeconfig?: string;
  debug?: boolean;
  color?: boolean;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/** `--target-context` (and kubectl-style `--context-target`) for commands that act on a plan's target. */
export function addTargetContextOption(command: Command): Command {
  return command
    .option('--target-context <name>', "override the plan's target context")
    .addOption(new Option('--context-target <name>', 'same as --target-context').hideHelp());
}

/** The kubeconfig and target-context overrides given on the command line, as the plan APIs take them. */
export function targetClusterOptions(command: Command): { kubeconfig?: string; targetContext?: string } {
  const { kubeconfig } = globalOptions(command);
  const { targetContext, contextTarget } = command.opts<{ targetContext?: string; contextTarget?: string }>();
  const context = targetContext ?? contextTarget;
  return { ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { targetContext: context } : {}) };
}

export function parseOutputFormat<T extends string>(value: string, allowed: readonly T[], flag = '-o'): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new FerryError('usage', `unknown output format "${value}"`, {
    location: { field: flag },
    fix: `use one of: ${allowed.join(', ')}`,
  });
}

/** Writes a result in the chosen format; `table` uses the caller's renderer. */
export function printResult(
  format: OutputFormat,
  value: unknown,
  table: () => { headers: string[]; rows: Array<Array<string | number>> } | string,
): void {
  if (format === 'json') process.stdout.write(toJson(value));
  else if (format === 'yaml') process.stdout.write(toYamlText(value));
  else {
    const rendered = table();
    process.stdout.write(typeof rendered === 'string' ? rendered : renderTable(rendered.headers, rendered.rows));
  }
}

/** A port flag's value, 0 meaning any free port. */
export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new FerryError('usage', `${flag} must be a port number from 0 to 65535, got "${text}"`, { location: { field: flag }, fix: `${flag} 8080 (or 0 for any free port)` });
  return port;
}

/** One timestamped line on stderr: how long-running commands say what they do (stdout stays the result). */
export function stderrLine(line: string): void {
  process.stderr.write(`${color().dim(new Date().toISOString())} ${line}
`);
}

/** A run's stage progress, as `ferry run`, `resume`, `rollback` and `ui` print it. */
export function printStageProgress({ slice, stage, detail }: { slice: string; stage: string; detail?: string }): void {
  stderrLine(`${slice}: ${stage}${detail ? ` ${detail}` : ''}`);
}
