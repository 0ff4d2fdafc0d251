import { spawnSync } from 'node:child_process';
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
