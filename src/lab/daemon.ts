/**
 * The background process behind `ferry lab up`: starts the clusters, writes the
 * kubeconfig, state and pid files, tells its parent it is ready (IPC), and stops
 * everything — API servers and pod processes — on SIGTERM/SIGINT, removing its files.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, type Lab } from './cluster.js';
import { labFiles, type LabState } from './state.js';

async function main(): Promise<void> {
  const args = new Map<string, string>();
  for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
  const dir = args.get('dir')!;
  const clusters = (args.get('clusters') ?? 'source,target').split(',').filter(Boolean);
  const pods = args.get('pods') === 'simulated' ? 'simulated' : 'processes';
  const mesh = args.get('mesh') !== 'false';
  const files = labFiles(dir);
  mkdirSync(dir, { recursive: true });
  let lab: Lab | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    try {
      await lab?.stop();
    } finally {
      for (const file of [files.pid, files.state]) rmSync(file, { force: true });
      process.exit(code);
    }
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.on('SIGHUP', () => undefined);
  process.on('disconnect', () => undefined);
  writeFileSync(files.pid, `${process.pid}\n`);
  let mode: 'processes' | 'simulated' = pods;
  try {
    lab = await startLab({ clusters, pods: mode, dataDir: join(dir, 'data'), mesh });
  } catch (error) {
    if (mode !== 'processes') throw error;
    // The pod runtime could not load: serve the API with simulated pods rather than nothing.
    mode = 'simulated';
    lab = await startLab({ clusters, pods: mode, dataDir: join(dir, 'data') });
  }
  writeFileSync(files.kubeconfig, lab.kubeconfig, { mode: 0o600 });
  const state: LabState = {
    pid: process.pid,
    dir,
    kubeconfig: files.kubeconfig,
    pods: mode,
    startedAt: new Date().toISOString(),
    clusters: lab.clusters.map((cluster) => ({ name: cluster.name, url: cluster.url, context: cluster.name, ...(cluster.ingress ? { ingress: cluster.ingress.url } : {}) })),
  };
  writeFileSync(files.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  process.send?.({ ready: true, state });
}

main().catch((error: unknown) => {
  process.send?.({ ready: false, error: (error as Error).message });
  process.stderr.write(`lab daemon failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
