import 'reflect-metadata'; // @peculiar/x509 (lab TLS) needs the Reflect polyfill loaded first
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';
import { kubeClusterObjects, type ClusterObjects } from '../../../src/traffic/cluster-objects.js';
import { createTrafficProvider, setAndVerifyWeight } from '../../../src/traffic/index.js';
import type { KubeObject } from '../../../src/kube/object.js';

// The Kubernetes-object providers write to a lab cluster (our API server, with the upstream
// Istio and Gateway API CRDs installed) through the official client with server-side apply;
// the effect is read back with real kubectl.
const dir = mkdtempSync(join(tmpdir(), 'ferry-kube-traffic-'));
const kubeconfigFile = join(dir, 'kubeconfig');
let cluster: LabCluster | undefined;
let objects: ClusterObjects;

function crds(file: string, kinds: string[]): KubeObject[] {
  return parseAllDocuments(readFileSync(`/work/shared/crds/${file}`, 'utf8'))
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object?.kind === 'CustomResourceDefinition' && kinds.includes((object.spec as { names: { kind: string } }).names.kind));
}

// Asynchronous: the lab API server runs in this process and must keep answering.
async function kubectl(...args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfigFile, ...args, '-o', 'json'], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(stdout);
}

before(async () => {
  cluster = await startLabCluster({ name: 'traffic' });
  writeFileSync(kubeconfigFile, cluster.kubeconfig);
  const config = new KubeConfig();
  config.loadFromString(cluster.kubeconfig);
  objects = kubeClusterObjects(config);
  for (const crd of [...crds('istio.yaml', ['VirtualService', 'DestinationRule']), ...crds('gateway-api-standard.yaml', ['HTTPRoute'])]) await objects.apply(crd);
  await objects.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await cluster.settled();
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('Istio: VirtualService weights and mirror, DestinationRule subsets, read back with kubectl', async () => {
  const provider = createTrafficProvider({
    type: 'istio', namespace: 'shop', name: 'frontend', hosts: ['frontend.shop.svc.cluster.local'],
    source: { host: 'frontend.shop.svc.cluster.local', subset: 'old', labels: { 'ferry.dev/cluster': 'old' } },
    target: { host: 'frontend.shop.svc.cluster.local', subset: 'new', labels: { 'ferry.dev/cluster': 'new' } },
  }, { cluster: objects });
  await provider.reconcile();
  for (const step of [1, 10, 50]) await setAndVerifyWeight(provider, step);
  await provider.setMirror({ enabled: true, percent: 5 });
  await setAndVerifyWeight(provider, 100);

  const virtualService = await kubectl('get', 'virtualservices.networking.istio.io', 'frontend', '-n', 'shop', '--show-managed-fields') as { spec: { http: Array<{ route: Array<{ destination: { subset: string }; weight: number }>; mirror?: unknown; mirrorPercentage?: { value: number } }> }; metadata: { managedFields: Array<{ manager: string; operation: string }> } };
  const http = virtualService.spec.http[0]!;
  assert.deepEqual(http.route.map((r) => [r.destination.subset, r.weight]), [['old', 0], ['new', 100]]);
  assert.deepEqual(http.mirrorPercentage, { value: 5 }, 'the mirror setting survives a weight change');
  assert.ok(virtualService.metadata.managedFields.some((field) => field.manager === 'ferry' && field.operation === 'Apply'), 'written by server-side apply as ferry');
  const rule = await kubectl('get', 'destinationrules.networking.istio.io', '-n', 'shop') as { items: Array<{ spec: { subsets: Array<{ name: string; labels: Record<string, string> }> } }> };
  assert.deepEqual(rule.items[0]!.spec.subsets.map((subset) => subset.name), ['old', 'new']);

  await provider.finalize();
  assert.deepEqual(await provider.getWeights(), { source: 100, target: 0 });
  assert.deepEqual((await provider.status()).mirror, { enabled: false, percent: 0 });
});

test('Gateway API: HTTPRoute backendRefs weights and RequestMirror percent, read back with kubectl', async () => {
  const provider = createTrafficProvider({
    type: 'gateway-api', namespace: 'shop', name: 'frontend', parentRefs: [{ name: 'public' }], hostnames: ['shop.example.com'],
    source: { name: 'frontend', port: 80 }, target: { name: 'frontend-new', port: 80 },
  }, { cluster: objects });
  await provider.reconcile();
  for (const step of [1, 10, 50]) await setAndVerifyWeight(provider, step);
  await provider.setMirror({ enabled: true, percent: 20 });
  const route = await kubectl('get', 'httproutes.gateway.networking.k8s.io', 'frontend', '-n', 'shop') as { spec: { rules: Array<{ backendRefs: Array<{ name: string; weight: number }>; filters?: Array<{ requestMirror: { percent: number; backendRef: { name: string } } }> }> } };
  const rule = route.spec.rules[0]!;
  assert.deepEqual(rule.backendRefs.map((ref) => [ref.name, ref.weight]), [['frontend', 50], ['frontend-new', 50]]);
  assert.deepEqual(rule.filters?.[0]?.requestMirror, { backendRef: { group: '', kind: 'Service', name: 'frontend-new', port: 80 }, percent: 20 });
  await setAndVerifyWeight(provider, 100);
  assert.deepEqual((await provider.status()).mirror, { enabled: true, percent: 20 });
});

test('ingress-nginx: canary Ingress with canary-weight and canary-by-cookie beside the primary, read back with kubectl', async () => {
  const provider = createTrafficProvider({
    type: 'ingress-nginx', namespace: 'shop', name: 'frontend', host: 'shop.example.com',
    source: { service: 'frontend', port: 80 }, target: { service: 'frontend-new', port: 80 },
  }, { cluster: objects });
  await provider.reconcile();
  for (const step of [1, 10, 50]) await setAndVerifyWeight(provider, step);
  const ingresses = await kubectl('get', 'ingresses.networking.k8s.io', '-n', 'shop') as { items: Array<{ metadata: { name: string; annotations?: Record<string, string> }; spec: { rules: Array<{ host: string; http: { paths: Array<{ backend: { service: { name: string } } }> } }> } }> };
  const byName = Object.fromEntries(ingresses.items.map((item) => [item.metadata.name, item]));
  assert.equal(byName.frontend?.spec.rules[0]?.http.paths[0]?.backend.service.name, 'frontend');
  const canary = byName['frontend-ferry-canary']!;
  assert.equal(canary.spec.rules[0]?.host, 'shop.example.com');
  assert.equal(canary.spec.rules[0]?.http.paths[0]?.backend.service.name, 'frontend-new');
  assert.equal(canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary'], 'true');
  assert.equal(canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '50');
  assert.equal(canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-by-cookie'], 'ferry_canary');
  await provider.finalize();
  const after = await kubectl('get', 'ingresses.networking.k8s.io', '-n', 'shop') as { items: Array<{ metadata: { name: string } }> };
  assert.deepEqual(after.items.map((item) => item.metadata.name), ['frontend'], 'finalize removes the canary and leaves the primary');
});
