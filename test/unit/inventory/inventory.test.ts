import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { summarizeInventory } from '../../../src/inventory/report.js';
import { idOf } from '../../../src/graph/model.js';
import { FerryError } from '../../../src/util/errors.js';
import { REPO } from '../../helpers/cli.js';

test('a `kubectl get -o yaml` List keeps what users own and skips what controllers and the cluster made', () => {
  const inventory = inventoryFromManifests({ manifests: `${REPO}/test/fixtures/kubectl-get-list.yaml` });
  assert.deepEqual(inventory.objects.map(idOf), ['CronJob/shop/nightly-report', 'Deployment/shop/web', 'Service/shop/api', 'Service/shop/web']);
  const skipped = Object.fromEntries(inventory.skipped.map((entry) => [entry.id, entry.reason]));
  assert.deepEqual(skipped, {
    'ConfigMap/shop/kube-root-ca.crt': 'made by the cluster',
    'Endpoints/shop/web': 'owned by a controller',
    'Job/shop/nightly-report-29321': 'owned by a controller',
    'Namespace/kube-system': 'made by the cluster',
    'Pod/shop/web-7d9c8b6f5d-x2k9p': 'owned by a controller',
    'ReplicaSet/shop/web-7d9c8b6f5d': 'owned by a controller',
    'Secret/shop/default-token-abcde': 'made by the cluster',
    'ServiceAccount/shop/default': 'made by the cluster',
  });
  const report = summarizeInventory(inventory);
  assert.deepEqual(report.namespaces[0]!.exposure, [{ object: 'Service/web', type: 'NodePort', detail: '80:31080/TCP' }]);
  assert.deepEqual(report.cluster.storageClasses, [{ name: 'standard', provisioner: 'rancher.io/local-path', default: true }]);
  assert.deepEqual(report.namespaces[0]!.images, ['ferry.dev/report:1', 'nginx:1.27']);
});

test('Helm-rendered output: namespaces defaulted, storage and external dependencies reported', () => {
  const report = summarizeInventory(inventoryFromManifests({ manifests: `${REPO}/test/fixtures/helm-rendered.yaml` }));
  assert.deepEqual(report.namespaces.map((ns) => ns.namespace), ['data', 'default']);
  const defaults = report.namespaces[1]!;
  assert.equal(defaults.objects.Deployment, 2);
  assert.deepEqual(defaults.exposure, [{ object: 'Ingress/shop', type: 'Ingress', detail: 'nginx: shop.example.com' }]);
  assert.deepEqual(defaults.externalDependencies.map((d) => d.target), ['api.payments.example.com']);
});

test('a directory is read recursively in path order; a kind defined twice is an error naming both places', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-inv-'));
  mkdirSync(join(dir, 'b'));
  copyFileSync(`${REPO}/test/fixtures/helm-rendered.yaml`, join(dir, 'a.yaml'));
  writeFileSync(join(dir, 'b', 'extra.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n');
  writeFileSync(join(dir, 'notes.txt'), 'not yaml: [');
  const inventory = inventoryFromManifests({ manifests: dir });
  assert.ok(inventory.objects.some((object) => idOf(object) === 'ConfigMap/default/extra'));

  writeFileSync(join(dir, 'b', 'dup.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n');
  assert.throws(() => inventoryFromManifests({ manifests: dir }), (error: FerryError) => {
    assert.match(error.oneLine(), /extra\.yml:1.*ConfigMap\/default\/extra is defined twice \(first at .*dup\.yaml:1\)/);
    return true;
  });
});

test('an unknown kind in a built-in group is rejected with file, line and the kinds that exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-inv-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: web\n');
  assert.throws(() => inventoryFromManifests({ manifests: file }), (error: FerryError) => {
    assert.equal(error.location.file, file);
    assert.equal(error.location.line, 6);
    assert.equal(error.location.field, 'kind');
    assert.match(error.oneLine(), /unknown kind "Deploymnet" in apps\/v1 .*Deployment/);
    return true;
  });
  // Custom resources of groups Ferry does not know are accepted as they are.
  writeFileSync(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\n');
  assert.equal(inventoryFromManifests({ manifests: file }).objects.length, 1);
});
