/**
 * The real kubectl's imperative commands against an in-process lab. kubectl's typed clients
 * send these bodies as protobuf (`kubectl run` and `scale` send JSON); the lab must store
 * exactly what kubectl meant. The oracle is
 * kubectl itself: `kubectl create … --dry-run=client -o json` prints the object it sends, and
 * the object the lab then serves must contain every field of it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import type { CliResult } from '../../helpers/cli.js';

let lab: TestLab;
const binary = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x80]), randomBytes(64)]);

before(async () => {
  lab = await startTestLab(['source']);
  writeFileSync(join(lab.dir, 'blob.bin'), binary);
});

after(async () => {
  await lab?.stop();
  if (lab) rmSync(lab.dir, { recursive: true, force: true });
});

async function kubectl(...args: string[]): Promise<CliResult> {
  return lab.kubectl(['--cache-dir', join(lab.dir, 'cache'), ...args]);
}

async function ok(...args: string[]): Promise<string> {
  const result = await kubectl(...args);
  assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

type Json = Record<string, unknown>;

/** Every field of `expected` is in `actual` (null in kubectl's output means "unset"). */
function assertContains(actual: unknown, expected: unknown, path: string): void {
  if (expected === null) return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected a list, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: list length`);
    expected.forEach((item, index) => assertContains(actual[index], item, `${path}[${index}]`));
    return;
  }
  if (typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [key, value] of Object.entries(expected)) assertContains((actual as Json)[key], value, `${path}.${key}`);
    return;
  }
  assert.deepEqual(actual, expected, `${path}`);
}

/**
 * Runs `kubectl <create…> --dry-run=client -o json`, then the real command, then reads the
 * object back and checks it holds everything kubectl sent (status is the server's to set).
 */
async function createLikeKubectl(args: string[]): Promise<{ sent: Json; stored: Json }> {
  const dash = args.indexOf('--');
  const flags = ['--dry-run=client', '-o', 'json'];
  const dryRun = dash < 0 ? [...args, ...flags] : [...args.slice(0, dash), ...flags, ...args.slice(dash)];
  const sent = JSON.parse(await ok(...dryRun)) as Json;
  delete sent.status;
  await ok(...args);
  const metadata = sent.metadata as { name: string; namespace?: string };
  const group = String(sent.apiVersion).includes('/') ? String(sent.apiVersion).split('/')[0] : '';
  const resource = `${String(sent.kind).toLowerCase()}${group ? `.${group}` : ''}`;
  const stored = JSON.parse(await ok('get', resource, metadata.name, ...(metadata.namespace ? ['-n', metadata.namespace] : []), '-o', 'json')) as Json;
  assertContains(stored, sent, String(sent.kind));
  return { sent, stored };
}

test('kubectl create namespace (protobuf) creates the namespace', async () => {
  const { stored } = await createLikeKubectl(['create', 'namespace', 'shop']);
  assert.equal((stored.status as Json).phase, 'Active');
});

test('kubectl create deployment: labels, selector, replicas, ports, command and a --save-config annotation arrive; the Deployment becomes Available', async () => {
  const { sent, stored } = await createLikeKubectl(['create', 'deployment', 'web', '-n', 'shop', '--image=nginx:1.27', '--replicas=1', '--port=80', '--save-config']);
  const annotations = (stored.metadata as { annotations: Record<string, string> }).annotations;
  assert.ok(annotations['kubectl.kubernetes.io/last-applied-configuration'], 'the --save-config annotation is stored');
  assert.deepEqual((sent.metadata as Json).labels, { app: 'web' });
  const spec = stored.spec as { replicas: number; strategy: { type: string } };
  assert.equal(spec.replicas, 1);
  assert.equal(spec.strategy.type, 'RollingUpdate', 'the lab defaults the empty strategy kubectl sends');
  await createLikeKubectl(['create', 'deployment', 'sleeper', '-n', 'shop', '--image=busybox:1.36', '--', 'sleep', '3600']);

  const rollout = await kubectl('rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=40s');
  assert.equal(rollout.code, 0, rollout.stderr);
  assert.match(rollout.stdout, /deployment "web" successfully rolled out/);
  const wait = await kubectl('wait', '--for=condition=Available', 'deploy/web', '-n', 'shop', '--timeout=30s');
  assert.equal(wait.code, 0, wait.stderr);
});

test('kubectl scale deploy web --replicas=2 works and the lab rolls the second replica out', async () => {
  assert.match(await ok('scale', 'deploy', 'web', '-n', 'shop', '--replicas=2'), /deployment.apps\/web scaled/);
  const rollout = await kubectl('rollout', 'status', 'deploy/web', '-n', 'shop', '--timeout=40s');
  assert.equal(rollout.code, 0, rollout.stderr);
  const deployment = JSON.parse(await ok('get', 'deploy', 'web', '-n', 'shop', '-o', 'json')) as { spec: { replicas: number }; status: { readyReplicas?: number } };
  assert.equal(deployment.spec.replicas, 2);
  assert.equal(deployment.status.readyReplicas, 2);
});

test('kubectl describe deploy web prints the deployment', async () => {
  const out = await ok('describe', 'deploy', 'web', '-n', 'shop');
  assert.match(out, /^Name:\s+web$/m);
  assert.match(out, /^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$/m);
  assert.match(out, /^StrategyType:\s+RollingUpdate$/m);
  assert.match(out, /Image:\s+nginx:1\.27/);
  assert.match(out, /Available\s+True/);
});

test('kubectl create configmap and secret generic: string and binary data arrive byte for byte', async () => {
  const blob = join(lab.dir, 'blob.bin');
  const { stored: configMap } = await createLikeKubectl(['create', 'configmap', 'settings', '-n', 'shop', '--from-literal=mode=fast', '--from-literal=empty=', `--from-file=blob=${blob}`]);
  assert.deepEqual(configMap.data, { mode: 'fast', empty: '' });
  assert.ok(Buffer.from(String((configMap.binaryData as Json).blob), 'base64').equals(binary), 'binaryData bytes are equal');

  const { stored: secret } = await createLikeKubectl(['create', 'secret', 'generic', 'db', '-n', 'shop', '--from-literal=password=hunter2', `--from-file=key=${blob}`]);
  const data = secret.data as Record<string, string>;
  assert.equal(Buffer.from(data.password!, 'base64').toString('utf8'), 'hunter2');
  assert.ok(Buffer.from(data.key!, 'base64').equals(binary), 'secret data bytes are equal');
  assert.equal(secret.type, 'Opaque');
  await createLikeKubectl(['create', 'secret', 'docker-registry', 'pull', '-n', 'shop', '--docker-server=registry.example.com', '--docker-username=u', '--docker-password=p']);
});

test('kubectl create serviceaccount and service clusterip (numeric and named targetPort)', async () => {
  await createLikeKubectl(['create', 'serviceaccount', 'builder', '-n', 'shop']);
  const { stored } = await createLikeKubectl(['create', 'service', 'clusterip', 'web', '-n', 'shop', '--tcp=80:8080', '--tcp=443:https']);
  const ports = (stored.spec as { ports: Array<{ port: number; targetPort: unknown }> }).ports;
  assert.deepEqual(ports.map((port) => port.targetPort), [8080, 'https']);
});

test('kubectl create job, cronjob and job --from=cronjob (owner reference and annotation)', async () => {
  await createLikeKubectl(['create', 'job', 'hello', '-n', 'shop', '--image=busybox:1.36', '--', 'echo', 'hi']);
  await createLikeKubectl(['create', 'cronjob', 'tick', '-n', 'shop', '--image=busybox:1.36', '--schedule=*/5 * * * *', '--restart=OnFailure', '--', 'date']);
  const { stored } = await createLikeKubectl(['create', 'job', 'manual', '-n', 'shop', '--from=cronjob/tick']);
  const metadata = stored.metadata as { ownerReferences: Array<{ kind: string; name: string; controller?: boolean }>; annotations: Record<string, string> };
  assert.deepEqual(metadata.ownerReferences.map((ref) => [ref.kind, ref.name, ref.controller]), [['CronJob', 'tick', true]]);
  assert.equal(metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
});

test('kubectl create role, rolebinding, clusterrole and clusterrolebinding', async () => {
  const { stored: role } = await createLikeKubectl(['create', 'role', 'reader', '-n', 'shop', '--verb=get,list,watch', '--resource=pods,deployments.apps']);
  assert.deepEqual((role.rules as Array<{ apiGroups: string[] }>).map((rule) => rule.apiGroups), [[''], ['apps']]);
  await createLikeKubectl(['create', 'rolebinding', 'read', '-n', 'shop', '--role=reader', '--serviceaccount=shop:builder', '--user=alice', '--group=devs']);
  await createLikeKubectl(['create', 'clusterrole', 'node-reader', '--verb=get,list', '--resource=nodes']);
  await createLikeKubectl(['create', 'clusterrolebinding', 'node-read', '--clusterrole=node-reader', '--user=alice']);
});

test('kubectl create ingress, poddisruptionbudget (int and percent) and quota (quantities)', async () => {
  await createLikeKubectl(['create', 'ingress', 'shop', '-n', 'shop', '--class=default', '--rule=shop.example.com/*=web:80,tls=shop-tls', '--annotation=team=web']);
  const { stored: min } = await createLikeKubectl(['create', 'poddisruptionbudget', 'web-min', '-n', 'shop', '--selector=app=web', '--min-available=50%']);
  assert.equal((min.spec as Json).minAvailable, '50%');
  const { stored: max } = await createLikeKubectl(['create', 'poddisruptionbudget', 'web-max', '-n', 'shop', '--selector=app=web', '--max-unavailable=1']);
  assert.equal((max.spec as Json).maxUnavailable, 1);
  const { stored: quota } = await createLikeKubectl(['create', 'quota', 'small', '-n', 'shop', '--hard=cpu=500m,memory=1Gi,pods=10']);
  assert.deepEqual((quota.spec as Json).hard, { cpu: '500m', memory: '1Gi', pods: '10' });
});

test('kubectl run (a JSON body) creates a Pod with labels, annotations, env and port', async () => {
  const { stored } = await createLikeKubectl(['run', 'probe', '-n', 'shop', '--image=nginx:1.27', '--labels=app=probe,tier=web', '--annotations=owner=qa', '--env=MODE=test', '--port=8080']);
  assert.deepEqual((stored.metadata as Json).labels, { app: 'probe', tier: 'web' });
});

test('kubectl auth can-i answers yes for the lab administrator', async () => {
  assert.equal((await ok('auth', 'can-i', 'create', 'pods')).trim(), 'yes');
  assert.equal((await ok('auth', 'can-i', 'delete', 'deployments.apps', '-n', 'shop')).trim(), 'yes');
});

test('a kind outside the protobuf table is refused with 415 and the workaround, which works', async () => {
  const refused = await kubectl('create', 'priorityclass', 'high', '--value=1000');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /PriorityClass \(scheduling\.k8s\.io\/v1\)/);
  assert.match(refused.stderr, /kubectl create \.\.\. --dry-run=client -o yaml \| kubectl apply -f -/);
  const file = join(lab.dir, 'priorityclass.yaml');
  writeFileSync(file, await ok('create', 'priorityclass', 'high', '--value=1000', '--dry-run=client', '-o', 'yaml'));
  await ok('apply', '-f', file);
  const stored = JSON.parse(await ok('get', 'priorityclass', 'high', '-o', 'json')) as { value: number };
  assert.equal(stored.value, 1000);
});

test('kubectl delete ns shop removes the namespace', async () => {
  await ok('delete', 'ns', 'shop', '--wait=false');
  const wait = await kubectl('wait', '--for=delete', 'ns/shop', '--timeout=30s');
  assert.equal(wait.code, 0, wait.stderr);
  const gone = await kubectl('get', 'ns', 'shop');
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /NotFound|not found/);
});
