import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { alive, waitFor } from './workloads-helpers.js';

const script = fileURLToPath(new URL('./workloads-orphans-parent.ts', import.meta.url));

/** Starts a process that runs two lab pods and prints their pids; returns it and the pids. */
async function startParent(): Promise<{ parent: ReturnType<typeof spawn>; pids: number[] }> {
  const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  parent.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const line = await waitFor('the parent to report its pods', () => output.split('\n').find((l) => l.startsWith('pids ')), 30_000);
  const pids = line.slice(5).split(',').map(Number);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.ok(alive(pid));
  return { parent, pids };
}

test('SIGINT to the process running pods leaves no pod process behind', async () => {
  const { parent, pids } = await startParent();
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGINT');
  await exited;
  await waitFor('pod processes gone', () => pids.every((pid) => !alive(pid)), 5_000);
});

test('SIGKILL of the process running pods: the watchdog kills the pods', async () => {
  const { parent, pids } = await startParent();
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await exited;
  // The watchdog notices the closed pipe at once; the apps' own parent check within a second.
  await waitFor('pod processes gone', () => pids.every((pid) => !alive(pid)), 10_000);
});
