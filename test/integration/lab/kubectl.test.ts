/**
 * The real kubectl on this machine against an in-process lab cluster: server-side apply
 * of Online Boutique, get, wait, rollout status, get -w, delete, CRDs and custom resources.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';

const BOUTIQUE = '/work/shared/fixtures/upstream/online-boutique.yaml';
const ISTIO = '/work/shared/crds/istio.yaml';
let cluster: LabCluster;
let dir: string;

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-lab-kubectl-'));
  cluster = await startLabCluster({ name: 'source' });
  writeFileSync(join(dir, 'kubeconfig'), cluster.kubeconfig);
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kubectl without a token is refused with 401', async () => {
  writeFileSync(join(dir, 'anon'), cluster.kubeconfig.replace(/token: .*/, 'token: wrong'));
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('kubectl', ['--kubeconfig', join(dir, 'anon'), '--cache-dir', join(dir, 'cache2'), 'get', 'ns'], (error, _stdout, stderr) => resolve({ code: error ? 1 : 0, stderr }));
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Unauthorized|must be logged in/);
});

test('kubectl apply --server-side installs Online Boutique', async () => {
  const result = await kubectl('apply', '--server-side', '-f', BOUTIQUE);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /deployment\.apps\/frontend serverside-applied/);
  assert.match(result.stdout, /service\/frontend-external serverside-applied/);
  assert.equal(result.stdout.trim().split('\n').length, 35);
  const again = await kubectl('apply', '--server-side', '-f', BOUTIQUE);
  assert.equal(again.code, 0, again.stderr);
});

test('kubectl get deploy -A -o json lists the twelve deployments with managedFields', async () => {
  const result = await kubectl('get', 'deploy', '-A', '-o', 'json', '--show-managed-fields');
  assert.equal(result.code, 0, result.stderr);
  const list = JSON.parse(result.stdout) as { items: Array<{ metadata: { name: string; managedFields: Array<{ manager: string; operation: string }> } }> };
  assert.equal(list.items.length, 12);
  const frontend = list.items.find((item) => item.metadata.name === 'frontend')!;
  assert.ok(frontend.metadata.managedFields.some((entry) => entry.manager === 'kubectl' && entry.operation === 'Apply'));
});

test('kubectl wait --for=condition=Available and rollout status succeed', async () => {
  const wait = await kubectl('wait', '--for=condition=Available', 'deploy', '--all', '--timeout=30s');
  assert.equal(wait.code, 0, wait.stderr);
  assert.equal((wait.stdout.match(/condition met/g) ?? []).length, 12);
  const image = await kubectl('set', 'image', 'deploy/frontend', 'server=nginx:1.27');
  assert.equal(image.code, 0, image.stderr);
  const rollout = await kubectl('rollout', 'status', 'deploy/frontend', '--timeout=30s');
  assert.equal(rollout.code, 0, rollout.stderr);
  assert.match(rollout.stdout, /deployment "frontend" successfully rolled out/);
  const table = await kubectl('get', 'rs', '-l', 'app=frontend');
  assert.match(table.stdout, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE/);
  assert.equal(table.stdout.trim().split('\n').length, 3, table.stdout);
});

test('kubectl get -w sees a change', async () => {
  const child = spawn('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), 'get', 'deploy', 'cartservice', '-w']);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const deadline = Date.now() + 20_000;
    while (!output.includes('cartservice') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const scale = await kubectl('scale', 'deploy/cartservice', '--replicas=3');
    assert.equal(scale.code, 0, scale.stderr);
    while (!/cartservice\s+3\/3/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(output, /cartservice\s+1\/1/);
    assert.match(output, /cartservice\s+3\/3\s+3\s+3/);
  } finally {
    child.kill();
  }
});

test('kubectl delete removes a deployment and, through owners, its pods', async () => {
  const result = await kubectl('delete', 'deploy', 'adservice');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /deployment\.apps "adservice" deleted/);
  await cluster.settled();
  const pods = await kubectl('get', 'pods', '-l', 'app=adservice', '-o', 'json');
  assert.equal(JSON.parse(pods.stdout).items.length, 0);
  const missing = await kubectl('get', 'deploy', 'adservice');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /deployments\.apps "adservice" not found/);
});

test('Istio CRDs install and a VirtualService validates against its schema', async () => {
  const crds = await kubectl('apply', '--server-side', '-f', ISTIO);
  assert.equal(crds.code, 0, crds.stderr);
  assert.match(crds.stdout, /virtualservices\.networking\.istio\.io serverside-applied/);
  writeFileSync(join(dir, 'vs.yaml'), [
    'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: frontend}',
    'spec:', '  hosts: [frontend]', '  http:', '  - route:', '    - destination: {host: frontend, subset: v1}', '      weight: 90',
    '    - destination: {host: frontend, subset: v2}', '      weight: 10', '',
  ].join('\n'));
  const good = await kubectl('apply', '--server-side', '-f', join(dir, 'vs.yaml'));
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /virtualservice\.networking\.istio\.io\/frontend serverside-applied/);
  const listed = await kubectl('get', 'virtualservices');
  assert.match(listed.stdout, /^NAME\s+GATEWAYS\s+HOSTS\s+AGE/);
  assert.match(listed.stdout, /frontend\s+\["frontend"\]/);

  writeFileSync(join(dir, 'bad.yaml'), ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: broken}', 'spec:', '  hosts: frontend', ''].join('\n'));
  const bad = await kubectl('apply', '--server-side', '-f', join(dir, 'bad.yaml'));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /VirtualService "broken" is invalid: spec\.hosts: Invalid value: "string"/);
  writeFileSync(join(dir, 'unknown.yaml'), ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: typo}', 'spec:', '  hostz: [frontend]', ''].join('\n'));
  const unknown = await kubectl('apply', '--server-side', '-f', join(dir, 'unknown.yaml'));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown field "spec\.hostz"/);
});

test('a field owned by another manager conflicts unless forced', async () => {
  writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n');
  assert.equal((await kubectl('apply', '--server-side', '--field-manager', 'team-a', '-f', join(dir, 'cm.yaml'))).code, 0);
  writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: slow}\n');
  const clash = await kubectl('apply', '--server-side', '--field-manager', 'team-b', '-f', join(dir, 'cm.yaml'));
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /conflict with "team-a" using v1: \.data\.mode/);
  const forced = await kubectl('apply', '--server-side', '--field-manager', 'team-b', '--force-conflicts', '-f', join(dir, 'cm.yaml'));
  assert.equal(forced.code, 0, forced.stderr);
  const value = await kubectl('get', 'cm', 'settings', '-o', 'jsonpath={.data.mode}');
  assert.equal(value.stdout, 'slow');
});

test('namespace deletion removes what it holds', async () => {
  // A namespace and what it holds, created from one file.
  writeFileSync(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one, namespace: scratch}\ndata: {a: b}\n');
  const created = await kubectl('create', '-f', join(dir, 'ns.yaml'));
  assert.equal(created.code, 0, created.stderr);
  const deleted = await kubectl('delete', 'namespace', 'scratch');
  assert.equal(deleted.code, 0, deleted.stderr);
  const gone = await kubectl('get', 'namespace', 'scratch');
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /namespaces "scratch" not found/);
});
