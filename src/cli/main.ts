import { Command, CommanderError } from 'commander';
import { isFerryError, toFerryError } from '../util/errors.js';
import { color, setColor } from '../util/color.js';
import { registerCommands } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Move live workloads between Kubernetes clusters, one reversible slice at a time')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--no-color', 'disable colours (NO_COLOR is honoured too)')
    .option('--debug', 'print the cause and stack of errors')
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', (command) => {
    if (command.optsWithGlobals().color === false) setColor(false);
  });
  return program;
}

/** Runs the CLI and returns the exit code; errors become one line on stderr, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  await registerCommands(program, argv);
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed usage errors and help.
      return error.exitCode;
    }
    const ferryError = toFerryError(error);
    process.stderr.write(`${color().red('error:')} ${ferryError.oneLine()}\n`);
    if (debug) process.stderr.write(`${String((ferryError.cause as Error | undefined)?.stack ?? ferryError.stack)}\n`);
    return isFerryError(error) && error.code === 'usage' ? 2 : 1;
  }
}
