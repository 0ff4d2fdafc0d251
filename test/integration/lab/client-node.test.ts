/** The official @kubernetes/client-node against a lab cluster: list, watch, patch, conflicts. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, KubeConfig, Watch, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';

let cluster: LabCluster;
let config: KubeConfig;

before(async () => {
  cluster = await startLabCluster({ name: 'client' });
  config = new KubeConfig();
  config.loadFromString(cluster.kubeconfig);
});

after(async () => {
  await cluster?.stop();
});

const deployment = (name: string) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels: { app: name } },
  spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'A', value: '1' }] }] } } },
});

test('create, list with a label selector and limit/continue', async () => {
  const apps = config.makeApiClient(AppsV1Api);
  for (const name of ['alpha', 'beta', 'gamma']) await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name) });
  const page = await apps.listNamespacedDeployment({ namespace: 'default', limit: 2 });
  assert.equal(page.items.length, 2);
  assert.ok(page.metadata?._continue);
  const rest = await apps.listNamespacedDeployment({ namespace: 'default', limit: 2, _continue: page.metadata!._continue! });
  assert.deepEqual(rest.items.map((d) => d.metadata?.name), ['gamma']);
  const selected = await apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'app in (alpha,gamma)' });
  assert.deepEqual(selected.items.map((d) => d.metadata?.name), ['alpha', 'gamma']);
  await cluster.settled();
  const core = config.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=alpha', fieldSelector: 'status.phase=Running' });
  assert.equal(pods.items.length, 2);
});

test('a stale update is refused with 409 Conflict', async () => {
  const apps = config.makeApiClient(AppsV1Api);
  const current = await apps.readNamespacedDeployment({ name: 'alpha', namespace: 'default' });
  await apps.replaceNamespacedDeployment({ name: 'alpha', namespace: 'default', body: { ...current, spec: { ...current.spec!, replicas: 3 } } });
  await assert.rejects(
    apps.replaceNamespacedDeployment({ name: 'alpha', namespace: 'default', body: { ...current, spec: { ...current.spec!, replicas: 4 } } }),
    (error: { code?: number; body?: string }) => error.code === 409 && /the object has been modified/.test(String(error.body)),
  );
});

test('strategic merge patch merges containers and env by name; watch sees it', async () => {
  const apps = config.makeApiClient(AppsV1Api);
  const seen: string[] = [];
  const watch = new Watch(config);
  const list = await apps.listNamespacedDeployment({ namespace: 'default' });
  const request = await watch.watch('/apis/apps/v1/namespaces/default/deployments', { resourceVersion: list.metadata!.resourceVersion, fieldSelector: 'metadata.name=beta' },
    (type: string, object: { metadata: { name: string; generation: number } }) => seen.push(`${type} ${object.metadata.name} ${object.metadata.generation}`), () => undefined);
  try {
    const patched = await apps.patchNamespacedDeployment(
      { name: 'beta', namespace: 'default', body: { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '2' }] }] } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const container = patched.spec!.template.spec!.containers[0]!;
    assert.equal(container.image, 'nginx:1.27');
    assert.deepEqual(container.env?.map((e) => e.name), ['A', 'B']);
    assert.equal(patched.metadata?.generation, 2);
    const deadline = Date.now() + 10_000;
    while (!seen.some((line) => line.startsWith('MODIFIED beta 2')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.some((line) => line.startsWith('MODIFIED beta 2')), seen.join('\n'));
    assert.ok(seen.every((line) => line.includes(' beta ')));
  } finally {
    request.abort();
  }
});

test('a watch from a resourceVersion older than the history gets 410 Gone', async () => {
  const small = await startLabCluster({ name: 'small', watchHistory: 16 });
  try {
    const kc = new KubeConfig();
    kc.loadFromString(small.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const first = await core.listNamespacedConfigMap({ namespace: 'default' });
    for (let i = 0; i < 40; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `c${i}` }, data: { i: String(i) } } });
    const error = await new Promise<unknown>((resolve) => {
      void new Watch(kc).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: first.metadata!.resourceVersion }, (type: string, object: { code?: number }) => {
        if (type === 'ERROR') resolve(object);
      }, (err) => resolve(err));
    });
    assert.equal((error as { code?: number }).code, 410);
  } finally {
    await small.stop();
  }
});
