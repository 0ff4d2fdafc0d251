/**
 * The same script, with no extra flags, for every kubectl from 1.27 to 1.33 found on this
 * machine (the Debian `kubectl` package installs kubectl.1.27 … kubectl.1.33): what a user
 * rehearsing on the lab with their own kubectl does. One lab with pods as processes; each
 * version works in its own namespace, one after another.
 *
 * A step whose lab feature has not landed yet stays in the script, skipped with the reason
 * (PENDING below), so it starts to count the moment the skip is removed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { runAsync, type CliResult } from '../../helpers/cli.js';

/** Steps waiting for a lab feature (issue #18); remove an entry when its feature lands. */
const PENDING: Partial<Record<'logs' | 'events' | 'foreground' | 'cel', string>> = {};

const MINORS = [27, 28, 29, 30, 31, 32, 33];

/** kubectl binaries by minor version, from the package's file list (or the usual directory). */
function kubectlBinaries(): Array<{ version: string; path: string }> {
  let listed: string[] = [];
  try {
    listed = execFileSync('dpkg', ['-L', 'kubectl'], { encoding: 'utf8' }).split('\n');
  } catch {
    listed = MINORS.map((minor) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`);
  }
  return MINORS.flatMap((minor) => {
    const path = listed.find((line) => line.endsWith(`/bin/kubectl.1.${minor}`));
    return path && existsSync(path) ? [{ version: `1.${minor}`, path }] : [];
  });
}

const APP = `apiVersion: v1
kind: ConfigMap
metadata: {name: echo-config}
data: {GREETING: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: echo
        image: ferry.dev/echo:v1
        ports: [{containerPort: 8080}]
        envFrom: [{configMapRef: {name: echo-config}}]
        readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
`;

/** The second client-side apply changes a value and a list: kubectl computes a strategic merge patch. */
const APP_CHANGED = APP.replace('GREETING: hello', 'GREETING: hi').replace('replicas: 1', 'replicas: 2');

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.lab.ferry.dev}
spec:
  group: lab.ferry.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              message: replicas must be at most maxReplicas
            properties:
              replicas: {type: integer}
              maxReplicas: {type: integer}
`;

const widget = (name: string, replicas: number) => `apiVersion: lab.ferry.dev/v1
kind: Widget
metadata: {name: ${name}}
spec: {replicas: ${replicas}, maxReplicas: 3}
`;

let lab: TestLab;
const files: Record<string, string> = {};

before(async () => {
  lab = await startTestLab(['source'], 'processes');
  for (const [name, text] of Object.entries({ app: APP, changed: APP_CHANGED, crd: CRD, good: widget('good', 2), bad: widget('bad', 5) })) {
    files[name] = join(lab.dir, `${name}.yaml`);
    writeFileSync(files[name], text);
  }
});

after(async () => {
  await lab?.stop();
});

function ok(result: CliResult, what: string): string {
  assert.equal(result.code, 0, `${what} failed: ${result.stderr}`);
  return result.stdout;
}

const binaries = kubectlBinaries();

test('kubectl 1.27 to 1.33 are installed', () => {
  assert.ok(binaries.length > 0, 'no kubectl.1.x binary found (dpkg -L kubectl)');
});

for (const { version, path } of binaries) {
  test(`kubectl ${version} runs the script with no extra flags`, async (t) => {
    const namespace = `kubectl-${version.replace('.', '-')}`;
    const kubectl = (...args: string[]) =>
      runAsync(path, ['--kubeconfig', lab.kubeconfigFile, '--cache-dir', join(lab.dir, `cache-${version}`), ...args], { timeoutMs: 90_000 });
    const inNs = (...args: string[]) => kubectl('-n', namespace, ...args);
    ok(await kubectl('create', 'namespace', namespace), 'create namespace');

    await t.test('apply (client-side) creates, then patches', async () => {
      const created = ok(await inNs('apply', '-f', files.app!), 'apply');
      assert.match(created, /configmap\/echo-config created/);
      assert.match(created, /deployment\.apps\/echo created/);
      assert.match(created, /service\/echo created/);
      const changed = await inNs('apply', '-f', files.changed!);
      ok(changed, 'second apply');
      assert.match(changed.stdout, /configmap\/echo-config configured/);
      assert.match(changed.stdout, /deployment\.apps\/echo configured/);
      assert.doesNotMatch(changed.stderr, /warning/i, 'no patch-calculation warning');
    });

    await t.test('apply --server-side takes over the same objects', async () => {
      const applied = ok(await inNs('apply', '--server-side', '-f', files.changed!), 'apply --server-side');
      assert.equal((applied.match(/serverside-applied/g) ?? []).length, 3, applied);
    });

    await t.test('get -o yaml shows what was applied', async () => {
      const deployment = parseYaml(ok(await inNs('get', 'deployment', 'echo', '-o', 'yaml'), 'get -o yaml')) as Record<string, any>;
      assert.equal(deployment.kind, 'Deployment');
      assert.equal(deployment.spec.replicas, 2);
      assert.equal(deployment.spec.template.spec.containers[0].image, 'ferry.dev/echo:v1');
      assert.ok(deployment.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], 'client-side apply left its annotation');
    });

    await t.test('rollout status waits for both pods', async () => {
      const rollout = ok(await inNs('rollout', 'status', 'deployment/echo', '--timeout=60s'), 'rollout status');
      assert.match(rollout, /deployment "echo" successfully rolled out/);
    });

    await t.test('logs shows the process output', { skip: PENDING.logs }, async () => {
      const logs = ok(await inNs('logs', 'deployment/echo'), 'logs');
      assert.match(logs, /echo listening on 127\.0\.0\.1:\d+/);
    });

    await t.test('describe shows the controllers\' Events', { skip: PENDING.events }, async () => {
      const described = ok(await inNs('describe', 'deployment', 'echo'), 'describe');
      assert.match(described, /^Events:/m);
      assert.match(described, /ScalingReplicaSet\s+.*Scaled up replica set echo-[a-z0-9]+ (from 0 )?to 1/);
    });

    await t.test('a CRD\'s schema is read from /openapi/v2 (kubectl\'s own protobuf parser)', async () => {
      ok(await kubectl('apply', '-f', files.crd!), 'apply CRD');
      const explained = ok(await kubectl('explain', 'widgets.spec', '--output=plaintext-openapiv2'), 'explain');
      assert.match(explained, /KIND:\s+Widget/);
      assert.match(explained, /maxReplicas\s+<integer>/);
    });

    await t.test('a CEL rule rejects a bad object with the real server\'s message', { skip: PENDING.cel }, async () => {
      ok(await inNs('apply', '-f', files.good!), 'apply a valid Widget');
      const rejected = await inNs('apply', '-f', files.bad!);
      assert.notEqual(rejected.code, 0, 'the bad Widget is refused');
      assert.match(rejected.stderr, /The Widget "bad" is invalid: spec: Invalid value: "object": replicas must be at most maxReplicas/);
    });

    await t.test('delete --cascade=foreground keeps the Deployment until its pods are gone', { skip: PENDING.foreground }, async () => {
      ok(await inNs('delete', 'deployment', 'echo', '--cascade=foreground', '--wait=false'), 'delete');
      const deleting = JSON.parse(ok(await inNs('get', 'deployment', 'echo', '-o', 'json'), 'get while deleting')) as Record<string, any>;
      assert.ok(deleting.metadata.deletionTimestamp, 'deletionTimestamp is set');
      assert.ok(deleting.metadata.finalizers?.includes('foregroundDeletion'), 'the foregroundDeletion finalizer holds it');
      ok(await inNs('wait', '--for=delete', 'deployment/echo', '--timeout=60s'), 'wait --for=delete');
      const pods = ok(await inNs('get', 'pods', '-l', 'app=echo', '-o', 'name'), 'get pods');
      assert.equal(pods.trim(), '', 'no pod outlives its Deployment');
    });
  });
}
