/**
 * `ferry lab up|down|fault|status` as library functions: start the lab daemon in the
 * background and wait until it is ready (killing it if we are interrupted first), stop
 * it by its pid file, and set API faults through the admin endpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { FerryError } from '../util/errors.js';
import { isAlive } from '../util/process.js';
import { labFiles, readLabState, readPid, type LabState } from './state.js';
import { ADMIN_FAULTS_PATH } from './api/server.js';
import type { ApiFaults } from './api/faults.js';

export const DEFAULT_LAB_DIR = '.ferry/lab';

export interface LabUpOptions {
  dir?: string;
  clusters?: string[];
  pods?: 'processes' | 'simulated';
  /** Serve Istio's networking types the lab's networking honours (default true). */
  mesh?: boolean;
  /** How long to wait for the daemon to be ready. */
  timeoutMs?: number;
}

export async function labUp(options: LabUpOptions = {}): Promise<LabState> {
  const dir = resolve(options.dir ?? DEFAULT_LAB_DIR);
  const clusters = options.clusters ?? ['source', 'target'];
  for (const name of clusters) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw new FerryError('usage', `cluster name "${name}" is not a valid name`, { location: { field: '--clusters' }, fix: 'use lower-case letters, digits and dashes, e.g. --clusters source,target' });
    }
  }
  const running = readPid(dir);
  if (running && isAlive(running)) {
    throw new FerryError('lab-running', `a lab is already running from ${dir} (pid ${running})`, { fix: `run \`ferry lab down --dir ${dir}\` first, or use another --dir` });
  }
  mkdirSync(dir, { recursive: true });
  const files = labFiles(dir);
  const log = openSync(files.log, 'a');
  const daemon = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './daemon.ts' : './daemon.js', import.meta.url));
  const started: { child?: ChildProcess } = {};
  const kill = () => {
    try {
      if (started.child?.pid) process.kill(-started.child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  // Interrupted before the lab is up: take the daemon (and its pods) down with us. Installed
  // before the daemon exists, so no moment has a daemon that an interrupt would orphan.
  const onSignal = () => {
    kill();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const spawned = spawn(process.execPath, [...(daemon.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []), daemon, '--dir', dir, '--clusters', clusters.join(','), '--pods', options.pods ?? 'processes', '--mesh', String(options.mesh ?? true)], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
  });
  started.child = spawned;
  closeSync(log);
  try {
    const state = await new Promise<LabState>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new FerryError('lab-timeout', 'the lab did not start in time', { fix: `see ${files.log}` })), options.timeoutMs ?? 60_000);
      spawned.once('message', (message: { ready: boolean; state?: LabState; error?: string }) => {
        clearTimeout(timer);
        if (message.ready && message.state) resolveReady(message.state);
        else reject(new FerryError('lab-start', `the lab failed to start: ${message.error ?? 'unknown error'}`, { fix: `see ${files.log}` }));
      });
      spawned.once('exit', (code) => {
        clearTimeout(timer);
        reject(new FerryError('lab-start', `the lab process exited with code ${code ?? 'null'} before it was ready`, { fix: `see ${files.log}` }));
      });
    });
    spawned.disconnect();
    spawned.unref();
    return state;
  } catch (error) {
    kill();
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export async function labDown(options: { dir?: string; timeoutMs?: number } = {}): Promise<{ stopped: boolean; pid?: number }> {
  const dir = resolve(options.dir ?? DEFAULT_LAB_DIR);
  const files = labFiles(dir);
  const pid = readPid(dir);
  if (!pid || !isAlive(pid)) {
    for (const file of [files.pid, files.state]) rmSync(file, { force: true });
    return { stopped: false };
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
  for (const file of [files.pid, files.state]) rmSync(file, { force: true });
  return { stopped: true, pid };
}

export function labStatus(options: { dir?: string } = {}): (LabState & { running: boolean }) | undefined {
  const dir = resolve(options.dir ?? DEFAULT_LAB_DIR);
  const state = readLabState(dir);
  if (!state) return undefined;
  return { ...state, running: isAlive(state.pid) };
}

/** Sets (or with `faults` = undefined, clears) API faults on one cluster of a running lab. */
export async function labFault(options: { dir?: string; cluster: string; faults: ApiFaults | undefined }): Promise<ApiFaults> {
  const dir = resolve(options.dir ?? DEFAULT_LAB_DIR);
  const state = readLabState(dir);
  if (!state) throw new FerryError('lab-not-running', `no lab is running from ${dir}`, { fix: 'run `ferry lab up` first' });
  const config = parseYaml(readFileSync(state.kubeconfig, 'utf8')) as {
    clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string } }>;
    users: Array<{ name: string; user: { token: string } }>;
  };
  const cluster = config.clusters.find((c) => c.name === options.cluster);
  const user = config.users.find((u) => u.name === `${options.cluster}-admin`);
  if (!cluster || !user) {
    throw new FerryError('usage', `the lab has no cluster "${options.cluster}"`, { location: { field: '--cluster' }, fix: `use one of: ${config.clusters.map((c) => c.name).join(', ')}` });
  }
  return setApiFaults({ url: cluster.cluster.server, token: user.user.token, caPem: Buffer.from(cluster.cluster['certificate-authority-data'], 'base64').toString('utf8') }, options.faults);
}

/** Talks to a cluster's admin endpoint directly (tests that started the cluster elsewhere use it too). */
export function setApiFaults(target: { url: string; token: string; caPem: string }, faults: ApiFaults | undefined): Promise<ApiFaults> {
  return new Promise((resolveFaults, reject) => {
    const body = faults ? JSON.stringify(faults) : '';
    const req = request(new URL(ADMIN_FAULTS_PATH, target.url), {
      method: faults ? 'PUT' : 'DELETE', ca: target.caPem, headers: { Authorization: `Bearer ${target.token}`, 'Content-Type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        if (res.statusCode === 200) resolveFaults(JSON.parse(text) as ApiFaults);
        else reject(new FerryError('lab-fault', `the lab refused the faults: ${(JSON.parse(text) as { message?: string }).message ?? res.statusCode}`));
      });
    });
    req.on('error', (error) => reject(new FerryError('lab-fault', `cannot reach the lab API: ${error.message}`, { cause: error })));
    req.end(body);
  });
}
