import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED = fileURLToPath(new URL('../../../shared', import.meta.url));
export const BOUTIQUE = `${SHARED}/fixtures/upstream/online-boutique.yaml`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `ferry` CLI in a child process, as a user would. */
export function ferry(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [`${REPO}/bin/ferry.js`, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    input: options.input,
    cwd: options.cwd ?? REPO,
    timeout: 120_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The same, without blocking this process: needed when the test itself hosts the servers
 * the CLI talks to (in-process lab clusters), which a synchronous spawn would freeze.
 */
export function ferryAsync(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return runAsync(process.execPath, [`${REPO}/bin/ferry.js`, ...args], { env: { ...process.env, NO_COLOR: '1', ...options.env }, cwd: options.cwd ?? REPO, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
}

export function runAsync(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A long `ferry` command running in its own process: its output so far, and its exit code once closed. */
export interface RunningFerry {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  closed: Promise<number | null>;
}

/** Starts the real CLI without waiting for it (a run to pause, approve or kill midway). */
export function startFerry(args: string[], env: Record<string, string> = {}): RunningFerry {
  const child = spawn(process.execPath, [`${REPO}/bin/ferry.js`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  const running: RunningFerry = { child, stdout: '', stderr: '', closed: new Promise((resolve) => child.on('close', resolve)) };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (running.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (running.stderr += chunk));
  return running;
}
