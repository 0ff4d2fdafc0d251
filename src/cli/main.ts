import { Command, CommanderError } from 'commander';
import { isFerryError, toFerryError, type FerryError } from '../util/errors.js';
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
  const debug = argv.includes('--debug');
  installLastResort(debug);
  const program = buildProgram();
  try {
    await registerCommands(program, argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed usage errors and help.
      return error.exitCode;
    }
    printError(error, debug);
    return isFerryError(error) && error.code === 'usage' ? 2 : 1;
  }
}

/**
 * One line for any error. A FerryError says what, where and the fix; anything else reached
 * the user because Ferry failed to check something, so it is named as a bug in Ferry with how
 * to report it, and its stack is shown only with --debug.
 */
export function printError(error: unknown, debug: boolean): void {
  const line = isFerryError(error) && !isWrappedUnexpected(error) ? error.oneLine() : internalErrorLine(isFerryError(error) ? error.cause : error);
  process.stderr.write(`${color().red('error:')} ${line}\n`);
  if (debug) {
    const ferryError = toFerryError(error);
    process.stderr.write(`${String((ferryError.cause as Error | undefined)?.stack ?? ferryError.stack)}\n`);
  }
}

/** What `toFerryError` makes of a raw error (code internal, no fix): still a bug to report, not a message to the user. */
function isWrappedUnexpected(error: FerryError): boolean {
  return error.code === 'internal' && error.fix === undefined && error.cause !== undefined && !isFerryError(error.cause);
}

function internalErrorLine(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
  return `internal error, a bug in Ferry rather than in your input: ${message} (fix: please report it to the Ferry maintainers with the command you ran, \`ferry version\` and the output of the same command with --debug)`;
}

let lastResortInstalled = false;

/**
 * Errors thrown outside the command's own promise (a callback, a stream) would make Node print
 * a stack; they get the same one line and exit code 1. A closed stdout (`ferry … | head`) is
 * not an error: the reader has what it wanted.
 */
function installLastResort(debug: boolean): void {
  if (lastResortInstalled) return;
  lastResortInstalled = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    printError(error, debug);
    process.exit(1);
  });
  const fatal = (error: unknown) => {
    printError(error, debug);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
