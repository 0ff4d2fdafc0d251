import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { stateDir } from '../../run/store.js';
import { RunMetrics } from '../../server/metrics.js';
import { startUiServer } from '../../server/server.js';
import { color } from '../../util/color.js';
import { globalOptions, parseOutputFormat, parsePort, printResult, printStageProgress, stderrLine } from '../context.js';
import { addJournalTrustOptions, journalTrustConfig } from '../journal-options.js';

/** `ferry ui`: the dashboard over every run of a state directory, until interrupted. */
export function register(program: Command): void {
  addJournalTrustOptions(program
    .command('ui')
    .description('serve the dashboard (runs, stages, weights, errors, latency, lag, parity, bridges, audit trail; approve, pause, resume, abort, roll back) on loopback, behind a token printed in its URL')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('--host <address>', 'address to listen on (keep loopback unless a proxy in front authenticates)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free one)', '0')
    .option('--context <name>', "kubeconfig context whose credentials say who approves with the printed token (default: each plan's target context)")
    .option('--tokens <file>', "team tokens: a YAML map of name (the Kubernetes user name plans' approvers list) to sha256:<hex of the token>")
    .option('--open', 'open the URL in a browser (xdg-open / open)')
    .option('-o, --output <format>', 'table or json (the URL and port, then serves until interrupted)', 'table')
    .addHelpText('after', '\nExamples:\n  ferry ui\n  ferry ui --port 8080 --context alice@prod\n  ferry ui --tokens team-tokens.yaml -o json\n'))
    .action(async (options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const { kubeconfig } = globalOptions(command);
      const server = await startUiServer({
        stateDir: stateDir(options.stateDir),
        host: options.host,
        port: parsePort(options.port, '--port'),
        ...(kubeconfig ? { kubeconfig } : {}),
        ...(options.context ? { context: options.context } : {}),
        ...(options.tokens ? { tokensFile: options.tokens } : {}),
        driveOptions: {
          journal: journalTrustConfig(command),
          onProgress: printStageProgress,
        },
        // Ferry's own metrics over every run of the state directory, at /metrics (bearer token): finished runs
        // are replayed once, only runs still going are followed.
        metrics: new RunMetrics(),
        log: stderrLine,
      });
      printResult(format, { url: server.url, host: server.host, port: server.port }, () => `dashboard: ${color().bold(server.url)}\n(the token in the URL is the key to approve and roll back: share it only with people who may)\n`);
      if (options.open) openBrowser(server.url);
      await new Promise<void>((resolve) => {
        const stop = () => {
          // A run resumed or rolled back from the page stops here as `ferry resume` would on Ctrl-C: its journal is whole.
          const runs = server.driving();
          if (runs.length === 0) return resolve();
          for (const id of runs) process.stderr.write(`\ninterrupted: \`ferry resume ${id}\` continues, \`ferry rollback ${id}\` goes back\n`);
          process.exit(130);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  spawn(opener, [url], { stdio: 'ignore', detached: true }).on('error', () => process.stderr.write(`could not start ${opener}: open the URL yourself\n`)).unref();
}
