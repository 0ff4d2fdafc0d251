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
export async function startTestLab(clusters: string[] = ['source', 'target'], pods: 'simulated' | 'processes' = 'simulated'): Promise<TestLab> {
  const lab = await startLab({ clusters, pods });
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
