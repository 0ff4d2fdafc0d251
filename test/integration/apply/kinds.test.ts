/**
 * The engine over every kind a slice carries (and a CRD with one of its custom resources):
 * tier order, CRDs Established before their resources, readiness per kind, and a second
 * apply that the API server treats as a no-op — nothing configured, no resourceVersion
 * bumped (the lab must keep the resourceVersion on a no-op server-side apply, as a real
 * API server does).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { applyObjects } from '../../../src/apply/apply.js';

let lab: TestLab;
let client: KubeClient;
const objects = parseAllDocuments(readFileSync(`${REPO}/test/fixtures/apply/kinds.yaml`, 'utf8')).map((doc) => doc.toJSON() as KubeObject);

before(async () => {
  lab = await startTestLab(['target']);
  client = new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'target' }));
});
after(async () => {
  client?.close();
  await lab?.stop();
});

async function resourceVersions(): Promise<Record<string, string>> {
  const items = [];
  for (const args of [['ns/kinds', 'crd/widgets.example.com', 'clusterrole/kinds-reader'], ['deploy,sts,job,cronjob,svc,cm,secret,sa,role,rolebinding,pvc,hpa,pdb,netpol,ing,widgets', '-n', 'kinds']]) {
    const listed = await lab.kubectl(['get', ...args, '-o', 'json'], 'target');
    assert.equal(listed.code, 0, listed.stderr);
    items.push(...JSON.parse(listed.stdout).items);
  }
  const ours = new Set(objects.map((object) => `${object.kind}/${object.metadata.name}`));
  return Object.fromEntries(items.filter((item: any) => ours.has(`${item.kind}/${item.metadata.name}`)).map((item: any) => [`${item.kind}/${item.metadata.name}`, item.metadata.resourceVersion]));
}

test('every kind applied in dependency order and waited for; applying again is a no-op on the server', async () => {
  const applied: string[] = [];
  const first = await applyObjects(client, objects, { readyTimeoutMs: 30_000, onProgress: (_done, _total, what, phase) => phase === 'apply' && applied.push(what) });
  assert.deepEqual(first.counts, { created: objects.length, configured: 0, unchanged: 0 });
  const position = (what: string) => applied.indexOf(what);
  assert.ok(position('Namespace kinds') === 0);
  assert.ok(position('CustomResourceDefinition widgets.example.com') < position('Widget kinds/w'));
  assert.ok(position('ServiceAccount kinds/app') < position('Deployment kinds/app'));
  assert.ok(position('Secret kinds/data') < position('PersistentVolumeClaim kinds/data'));
  assert.ok(position('PersistentVolumeClaim kinds/data') < position('Service kinds/app'));
  assert.ok(position('Service kinds/app') < position('StatefulSet kinds/db'));
  assert.ok(position('Deployment kinds/app') < position('HorizontalPodAutoscaler kinds/app'));
  assert.ok(position('Widget kinds/w') < position('Ingress kinds/app'), 'routes last');
  assert.deepEqual(first.objects.slice(0, 2).map((o) => o.object), ['Namespace kinds', 'CustomResourceDefinition widgets.example.com']);

  const live = async (path: string) => client.request<any>({ path });
  assert.equal((await live('/api/v1/namespaces/kinds/persistentvolumeclaims/data')).status.phase, 'Bound');
  assert.ok((await live('/apis/batch/v1/namespaces/kinds/jobs/once')).status.conditions.some((c: any) => c.type === 'Complete' && c.status === 'True'));
  assert.equal((await live('/apis/apps/v1/namespaces/kinds/statefulsets/db')).status.readyReplicas, 1);

  const before = await resourceVersions();
  assert.equal(Object.keys(before).length, objects.length);
  const second = await applyObjects(client, objects, { readyTimeoutMs: 30_000 });
  assert.deepEqual(second.counts, { created: 0, configured: 0, unchanged: objects.length });
  assert.deepEqual(await resourceVersions(), before);
  // A dry run of the same objects also knows nothing would change.
  const dry = await applyObjects(client, objects, { dryRun: true });
  assert.deepEqual(dry.counts, { created: 0, configured: 0, unchanged: objects.length });
});
