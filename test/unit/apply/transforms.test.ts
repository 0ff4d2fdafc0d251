import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readManifests } from '../../../src/inventory/manifests.js';
import { compileTransforms, transformObjects } from '../../../src/apply/transforms/index.js';
import { stripServerFields } from '../../../src/apply/transforms/strip-server-fields.js';
import { validateAgainstKubernetesSchema } from '../../../src/kube/schema-validate.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { FerryError } from '../../../src/util/errors.js';
import { REPO } from '../../helpers/cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryFromManifests } from '../../../src/inventory/index.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { desiredObjects } from '../../../src/apply/desired.js';

const returned = readManifests(`${REPO}/test/fixtures/cluster-returned.yaml`).map((entry) => entry.object);
const byKind = (objects: KubeObject[], kind: string, name?: string) => objects.find((o) => o.kind === kind && (!name || o.metadata.name === name)) as any;

test('objects as a cluster returns them lose every server-owned field and stay valid Kubernetes', async () => {
  const stripped = transformObjects(returned, compileTransforms([{ name: 'strip-server-fields' }]));
  for (const object of stripped) {
    const text = JSON.stringify(object);
    for (const field of ['"status"', '"managedFields"', '"resourceVersion"', '"uid"', '"creationTimestamp":"2', '"generation"', 'last-applied-configuration', 'deployment.kubernetes.io/revision', 'pv.kubernetes.io/', 'volume.kubernetes.io/', '"clusterIP":"10.', '"clusterIPs":["10.', '"nodePort"', '"healthCheckNodePort"', '"volumeName"', 'controller-uid']) {
      assert.ok(!text.includes(field), `${object.kind} ${object.metadata.name} still has ${field}`);
    }
    const check = await validateAgainstKubernetesSchema(object);
    assert.ok(check.known, `no schema for ${object.kind}`);
    assert.deepEqual(check.errors, [], `${object.kind} ${object.metadata.name}`);
  }
  // A headless Service stays headless, and user-set fields survive.
  assert.equal(byKind(stripped, 'Service', 'orders-db').spec.clusterIP, 'None');
  assert.equal(byKind(stripped, 'Service', 'storefront').spec.externalTrafficPolicy, 'Local');
  assert.equal(byKind(stripped, 'Job').spec.selector, undefined, 'the Job controller generates a new selector');
  assert.deepEqual(byKind(stripped, 'Job').spec.template.metadata.labels, {});
  assert.equal(byKind(stripped, 'PersistentVolumeClaim').spec.storageClassName, 'standard');
  assert.deepEqual(byKind(stripped, 'PersistentVolumeClaim').metadata.finalizers, ['kubernetes.io/pvc-protection']);
  // The input is not modified.
  assert.equal(byKind(returned, 'Service', 'storefront').spec.clusterIP, '10.96.120.44');
});

test('pinned node ports are kept', () => {
  const service = stripServerFields(byKind(returned, 'Service', 'storefront'), { pinNodePorts: true }) as any;
  assert.equal(service.spec.ports[0].nodePort, 30412);
  assert.equal(service.spec.clusterIP, undefined);
});

test('maps storage classes, registries, namespaces, replicas and JSON patches by selector', () => {
  const compiled = compileTransforms([
    { name: 'strip-server-fields' },
    { name: 'map-storage-class', with: { standard: 'gp3' } },
    { name: 'map-image-registry', with: { 'registry.old.example.com': 'registry.new.example.com', 'docker.io/library': 'mirror.example.com/dockerhub' } },
    { name: 'map-namespace', with: { shop: 'shop-v2' } },
    { name: 'set-replicas', with: { replicas: 1, select: { kind: 'Deployment' } } },
    { name: 'json-patch', with: { select: { kind: 'Deployment', name: 'storefront' }, patch: [{ op: 'add', path: '/metadata/labels/migrated-by', value: 'ferry' }] } },
  ]);
  const out = transformObjects(returned, compiled);
  assert.equal(byKind(out, 'PersistentVolumeClaim').spec.storageClassName, 'gp3');
  assert.equal(byKind(out, 'StatefulSet').spec.volumeClaimTemplates[0].spec.storageClassName, 'gp3');
  assert.equal(byKind(out, 'Deployment').spec.template.spec.containers[0].image, 'registry.new.example.com/shop/storefront:2.4.1');
  assert.equal(byKind(out, 'StatefulSet').spec.template.spec.containers[0].image, 'mirror.example.com/dockerhub/postgres:15');
  assert.ok(out.every((object) => object.metadata.namespace === 'shop-v2'));
  assert.equal(byKind(out, 'Deployment').spec.replicas, 1);
  assert.equal(byKind(out, 'StatefulSet').spec.replicas, 1, 'set-replicas with a selector leaves other kinds alone');
  assert.equal(byKind(out, 'Deployment').metadata.labels['migrated-by'], 'ferry');
});

test('a bad transform fails before anything runs, naming the field and the fix', () => {
  assert.throws(() => compileTransforms([{ name: 'strip-server-fields' }, { name: 'map-storage-klass', with: {} }]), (error: FerryError) => {
    assert.equal(error.location.field, 'spec.transforms[1].name');
    assert.match(error.fix ?? '', /map-storage-class/);
    return true;
  });
  assert.throws(() => compileTransforms([{ name: 'set-replicas', with: { replicas: -1 } }]), /set-replicas.*Too small/);
});

test('property: stripping is idempotent and never touches containers', () => {
  fc.assert(
    fc.property(fc.constantFrom(...returned), (object) => {
      const once = stripServerFields(object);
      assert.deepEqual(stripServerFields(once), once);
      assert.deepEqual((once as any).spec?.template?.spec?.containers, (object as any).spec?.template?.spec?.containers);
    }),
  );
});

test('replicas: stated (default 1) so a re-apply after a rollback restores them; left to the HPA when one scales the workload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-replicas-'));
  const file = join(dir, 'shop.yaml');
  const deployment = (name: string, replicas?: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: shop }
spec:
${replicas === undefined ? '' : `  replicas: ${replicas}\n`}  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec: { containers: [{ name: app, image: example.com/${name}:1 }] }
`;
  writeFileSync(file, [deployment('web'), deployment('api', 3), deployment('worker', 4), `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: worker, namespace: shop }
spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: worker }, minReplicas: 2, maxReplicas: 10 }
`].join('---\n'));
  const inventory = inventoryFromManifests({ manifests: file });
  const plan = generatePlan(inventory.objects, { source: { manifests: file }, target: { context: 'target' } });
  const replicas = Object.fromEntries(desiredObjects(plan, inventory).desired.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, (o.spec as { replicas?: number }).replicas]));
  assert.deepEqual(replicas, { api: 3, web: 1, worker: undefined });
});
