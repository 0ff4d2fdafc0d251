/** The files a running lab keeps in its directory (default .ferry/lab), and reading them back. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LabState {
  pid: number;
  dir: string;
  kubeconfig: string;
  pods: 'processes' | 'simulated';
  startedAt: string;
  /** `ingress`: the cluster's ingress (http://host:port); `eastWest`: its east-west gateway (host:port). */
  clusters: Array<{ name: string; url: string; context: string; ingress?: string; eastWest?: string }>;
}

export function labFiles(dir: string): { pid: string; state: string; kubeconfig: string; log: string } {
  return { pid: join(dir, 'lab.pid'), state: join(dir, 'lab.json'), kubeconfig: join(dir, 'kubeconfig'), log: join(dir, 'lab.log') };
}

export function readLabState(dir: string): LabState | undefined {
  const file = labFiles(dir).state;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

export function readPid(dir: string): number | undefined {
  const file = labFiles(dir).pid;
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

