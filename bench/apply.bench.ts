/**
 * Applying to a cluster: 1,000 objects (100 services × Deployment, Service, ServiceAccount,
 * ConfigMap, Secret, HPA, PDB, Ingress, PVC, RoleBinding) server-side applied to a lab
 * cluster by Ferry's engine (tiers, 8 at once, then readiness), then again (all unchanged),
 * then diffed (a dry-run apply and a field diff per object), next to `kubectl apply
 * --server-side` of the same objects to a second, fresh lab cluster in the same run.
 * Both lab API servers run in this process, so the figures include serving the requests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { startLabCluster } from '../src/lab/cluster.js';
import { KubeClient } from '../src/kube/client.js';
import { applyObjects } from '../src/apply/apply.js';
import { diffObjects } from '../src/apply/diff.js';
import { syntheticInventory } from '../src/inventory/synthetic.js';
import { toYamlText } from '../src/util/output.js';
import { report, section } from './report.js';

const services = 100;
const objects = [
  ...[...new Set(syntheticInventory({ services, namespaces: 4 }).map((o) => o.metadata.namespace!))].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
  ...syntheticInventory({ services, namespaces: 4 }),
];
const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-apply-'));
section(`apply: ${objects.length} objects to a lab cluster`);

const ours = await startLabCluster({ name: 'bench' });
const theirs = await startLabCluster({ name: 'kubectl' });
try {
  const client = new KubeClient(configOf(ours.kubeconfig));
  let started = performance.now();
  const first = await applyObjects(client, objects, { readyTimeoutMs: 120_000 });
  const firstSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const second = await applyObjects(client, objects, { readyTimeoutMs: 120_000 });
  const secondSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const diffs = await diffObjects(client, objects);
  const diffSeconds = (performance.now() - started) / 1000;
  client.close();

  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, theirs.kubeconfig);
  const manifest = join(dir, 'objects.yaml');
  writeFileSync(manifest, objects.map((o) => toYamlText(o)).join('---\n'));
  started = performance.now();
  const code = await run('kubectl', ['--kubeconfig', kubeconfigFile, 'apply', '--server-side', '-f', manifest]);
  const kubectlSeconds = (performance.now() - started) / 1000;

  const perSecond = objects.length / firstSeconds;
  report({ name: `ferry apply, first time (${first.counts.created} created, readiness waited)`, value: perSecond, unit: 'objects/s', compare: { kind: 'reference', label: 'kubectl apply --server-side', value: objects.length / kubectlSeconds, lowerIsBetter: false } });
  report({ name: `ferry apply again (${second.counts.unchanged} unchanged)`, value: objects.length / secondSeconds, unit: 'objects/s' });
  report({ name: `ferry diff (${diffs.filter((d) => d.action === 'unchanged').length} unchanged)`, value: objects.length / diffSeconds, unit: 'objects/s' });
  report({ name: 'kubectl apply --server-side (no readiness wait)', value: objects.length / kubectlSeconds, unit: `objects/s (exit ${code})` });
} finally {
  await ours.stop();
  await theirs.stop();
}

function configOf(text: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromString(text);
  return config;
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('close', (code) => resolve(code ?? -1));
  });
}
