import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { createTrafficProvider, setAndVerifyWeight } from '../../../src/traffic/index.js';
import { runtimeCommand } from '../../../src/traffic/haproxy.js';
import { freePort, runLoad, startBackend, startProgram, type BackendProcess } from './helpers.js';

// A real HAProxy from Debian, driven through its runtime API socket; the effect is read back
// from HAProxy's own stats and from the responses, and the weights survive a restart.
const dir = mkdtempSync(join(tmpdir(), 'ferry-haproxy-'));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

function haproxyConfig(port: number, socket: string, stateFile: string, source: BackendProcess, target: BackendProcess): string {
  return `global
    stats socket ${socket} mode 600 level admin
    server-state-file ${stateFile}
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    load-server-state-from-file global
frontend fe
    bind 127.0.0.1:${port}
    default_backend be_app
backend be_app
    balance roundrobin
    server source 127.0.0.1:${source.port} weight 100
    server target 127.0.0.1:${target.port} weight 0
`;
}

async function countBackends(url: string, requests: number): Promise<Record<string, number>> {
  const pool = new Pool(url, { connections: 8 });
  const counts: Record<string, number> = {};
  for (let start = 0; start < requests; start += 50) {
    const answers = await Promise.all(Array.from({ length: Math.min(50, requests - start) }, async () => {
      const response = await pool.request({ method: 'GET', path: '/' });
      return ((await response.body.json()) as { backend: string }).backend;
    }));
    for (const backend of answers) counts[backend] = (counts[backend] ?? 0) + 1;
  }
  await pool.close();
  return counts;
}

test('HAProxy weights set through the runtime API split traffic, show in its stats and survive a restart', async () => {
  const source = await startBackend('source');
  const target = await startBackend('target');
  cleanups.push(() => source.kill(), () => target.kill());
  const port = await freePort();
  const socket = join(dir, 'admin.sock');
  const stateFile = join(dir, 'server-state');
  const configFile = join(dir, 'haproxy.cfg');
  writeFileSync(configFile, haproxyConfig(port, socket, stateFile, source, target));
  const start = () => startProgram('/usr/sbin/haproxy', ['-db', '-f', configFile], async () => existsSync(socket) && (await runtimeCommand(socket, 'show info')).includes('Name: HAProxy'), 'haproxy');
  let haproxy = await start();
  cleanups.push(() => haproxy.stop());
  const url = `http://127.0.0.1:${port}`;

  const provider = createTrafficProvider({ type: 'haproxy', socket, backend: 'be_app', sourceServer: 'source', targetServer: 'target', serverStateFile: stateFile });
  await provider.reconcile();
  assert.deepEqual(await provider.getWeights(), { source: 100, target: 0 });

  // Weight changes under load: nobody sees an error.
  const load = runLoad({ url, rate: 300, durationMs: 4000, connections: 8 });
  for (const step of [1, 10, 50, 100, 10]) {
    await new Promise((resolve) => setTimeout(resolve, 600));
    await setAndVerifyWeight(provider, step);
  }
  const loadResult = await load;
  assert.equal(loadResult.failed, 0, `failures through HAProxy: ${loadResult.failures.slice(0, 5).join(', ')}`);

  const before = await provider.status();
  const counts = await countBackends(url, 1000);
  const after = await provider.status();
  const sessions = (status: typeof before, name: string) => (status.detail.servers as Array<{ name: string; sessionsTotal: number }>).find((server) => server.name === name)!.sessionsTotal;
  process.stdout.write(`# haproxy at 10%: responses ${JSON.stringify(counts)}; stats stot delta source ${sessions(after, 'source') - sessions(before, 'source')}, target ${sessions(after, 'target') - sessions(before, 'target')}\n`);
  assert.ok(Math.abs((counts.target ?? 0) - 100) <= 30, `target answered ${counts.target} of 1000 at 10%`);
  const weightsInStats = Object.fromEntries((after.detail.servers as Array<{ name: string; weight: number }>).map((server) => [server.name, server.weight]));
  assert.deepEqual(weightsInStats, { source: 90, target: 10 });

  // The runtime API's changes are lost on reload; the server-state file keeps them.
  await setAndVerifyWeight(provider, 50);
  assert.match(readFileSync(stateFile, 'utf8'), /be_app/);
  await haproxy.stop();
  haproxy = await start();
  assert.deepEqual(await provider.getWeights(), { source: 50, target: 50 }, 'weights after restart');

  await provider.finalize();
  assert.deepEqual(await provider.getWeights(), { source: 100, target: 0 });
  await assert.rejects(provider.setMirror({ enabled: true, percent: 10 }), /cannot mirror/);
});
