import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../../src/lab/cluster.js';
import { runAsync, type CliResult } from './cli.js';

export interface TestLab extends Lab {
  /** A kubeconfig file with one context per cluster, named after the clusters. */
  kubeconfigFile: string;
  dir: string;
  /** Real kubectl against a cluster of the lab (asynchronous: the lab runs in this process). */
  kubectl(args: string[], context?: string): Promise<CliResult>;
}

/** Starts in-process lab clusters for a test and writes their kubeconfig to a temp file. */
export async function startTestLab(clusters: string[] = ['source', 'target'], pods: 'simulated' | 'processes' = 'simulated', options: { mesh?: boolean } = {}): Promise<TestLab> {
  const lab = await startLab({ clusters, pods, ...options });
  const dir = mkdtempSync(join(tmpdir(), 'ferry-test-lab-'));
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, lab.kubeconfig, { mode: 0o600 });
  return {
    ...lab,
    kubeconfigFile,
    dir,
    kubectl: (args, context = clusters[0]) => runAsync('kubectl', ['--kubeconfig', kubeconfigFile, '--context', context!, ...args]),
  };
}

/**
 * A Deployment `default/stuck` whose pod runs but never passes its readiness probe (a
 * process that does not listen), for tests of readiness failures; pods must be processes.
 */
export function stuckDeployment(options: { progressDeadlineSeconds?: number } = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: default}
spec:
  replicas: 1
${options.progressDeadlineSeconds === undefined ? '' : `  progressDeadlineSeconds: ${options.progressDeadlineSeconds}\n`}  selector: {matchLabels: {app: stuck}}
  template:
    metadata:
      labels: {app: stuck}
      annotations: {lab.ferry.dev/command: "sleep 120"}
    spec:
      containers:
      - name: app
        image: example.com/stuck:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`;
}
