import { request } from 'undici';
import { FerryError } from '../../util/errors.js';
import type { RunningPod } from '../runtime.js';
import { FAULTS_PATH, type AppFaults } from './faults-model.js';

export { NO_FAULTS, type AppFaults } from './faults-model.js';

export interface AppAddress {
  host: string;
  port: number;
}

interface FaultsReply {
  faults: AppFaults;
  stats: { requests: number; injectedErrors: number; delayed: number };
}

async function call(address: AppAddress, method: 'GET' | 'POST' | 'DELETE', body?: Partial<AppFaults>): Promise<FaultsReply> {
  const url = `http://${address.host}:${address.port}${FAULTS_PATH}`;
  try {
    const response = await request(url, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as FaultsReply;
  } catch (error) {
    throw new FerryError('lab.faults.unreachable', `cannot set faults on the lab app at ${address.host}:${address.port}: ${(error as Error).message}`, {
      fix: 'faults work on Ferry sample apps and stand-ins (ferry.dev/echo, ferry.dev/shop); check the pod is running',
      cause: error,
    });
  }
}

/** Sets (merges) faults on one app process; returns what the app now applies. */
export async function setAppFaults(address: AppAddress, faults: Partial<AppFaults>): Promise<AppFaults> {
  return (await call(address, 'POST', faults)).faults;
}

export async function getAppFaults(address: AppAddress): Promise<FaultsReply> {
  return call(address, 'GET');
}

export async function clearAppFaults(address: AppAddress): Promise<void> {
  await call(address, 'DELETE');
}

/** Sets faults on every sample-app or stand-in container of a pod (command containers are skipped). */
export async function setPodFaults(pod: RunningPod, faults: Partial<AppFaults>): Promise<void> {
  const targets = pod
    .status()
    .containers.filter((c) => (c.kind === 'sample' || c.kind === 'stand-in') && c.hostPorts[0] !== undefined)
    .map((c) => ({ host: pod.host, port: c.hostPorts[0] as number }));
  await Promise.all(targets.map((target) => setAppFaults(target, faults)));
}

export async function clearPodFaults(pod: RunningPod): Promise<void> {
  const targets = pod
    .status()
    .containers.filter((c) => (c.kind === 'sample' || c.kind === 'stand-in') && c.hostPorts[0] !== undefined)
    .map((c) => ({ host: pod.host, port: c.hostPorts[0] as number }));
  await Promise.all(targets.map((target) => clearAppFaults(target)));
}
