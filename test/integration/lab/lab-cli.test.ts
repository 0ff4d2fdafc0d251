/** `ferry lab up` / `lab fault` / `lab down` as a user runs them: background process, kubeconfig, pid file, no orphans. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ferry-lab-cli-'));

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}
const ferry = (...args: string[]) => run(process.execPath, ['bin/ferry.js', ...args]);

after(async () => {
  await ferry('lab', 'down', '--dir', dir);
  rmSync(dir, { recursive: true, force: true });
});

test('lab up starts two clusters kubectl can use, lab fault fails requests, lab down stops everything', async () => {
  const up = await ferry('lab', 'up', '--dir', dir, '--simulated-pods', '-o', 'json');
  assert.equal(up.code, 0, up.stderr);
  const state = JSON.parse(up.stdout) as { pid: number; kubeconfig: string; clusters: Array<{ name: string }> };
  assert.deepEqual(state.clusters.map((c) => c.name), ['source', 'target']);
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', state.kubeconfig, '--cache-dir', join(dir, 'cache'), ...args]);
  const nodes = await kubectl('--context', 'target', 'get', 'nodes');
  assert.equal(nodes.code, 0, nodes.stderr);
  assert.match(nodes.stdout, /target-node\s+Ready/);

  const fault = await ferry('lab', 'fault', '--dir', dir, '--cluster', 'source', '--error-rate', '1', '--verbs', 'list');
  assert.equal(fault.code, 0, fault.stderr);
  const failing = await kubectl('--context', 'source', 'get', 'configmaps');
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /ServiceUnavailable/);
  assert.equal((await ferry('lab', 'fault', '--dir', dir, '--cluster', 'source', '--clear')).code, 0);
  assert.equal((await kubectl('--context', 'source', 'get', 'configmaps')).code, 0);

  const down = await ferry('lab', 'down', '--dir', dir);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /lab stopped/);
  assert.throws(() => process.kill(state.pid, 0));
  assert.equal(existsSync(join(dir, 'lab.pid')), false);
});
