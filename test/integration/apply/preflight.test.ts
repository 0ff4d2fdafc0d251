import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SHARED, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

const FIXTURE = `${REPO}/test/fixtures/preflight/orders.yaml`;
let lab: TestLab;
before(async () => {
  lab = await startTestLab(['target']);
});
after(async () => {
  await lab?.stop();
});

async function preflight(planText: string, name: string) {
  const file = join(lab.dir, name);
  writeFileSync(file, planText);
  const result = await ferryAsync(['preflight', file, '--kubeconfig', lab.kubeconfigFile, '-o', 'json']);
  const report = JSON.parse(result.stdout);
  const row = (check: string, subject: RegExp) => report.rows.find((r: any) => r.check === check && subject.test(r.subject));
  return { result, report, row };
}

test('a target missing a storage class, a CRD, an ingress class and a removed API gets BLOCK rows and exit 1', async () => {
  const plan = (await ferryAsync(['plan', '--manifests', FIXTURE, '--to', 'target'])).stdout;
  const { result, report, row } = await preflight(plan, 'plan.yaml');
  assert.equal(result.code, 1, result.stderr);
  assert.equal(report.blocked, true);
  assert.match(row('storage-class', /PersistentVolumeClaim shop\/orders-data/).message, /storage class "fast-ssd" does not exist on the target/);
  assert.equal(row('storage-class', /orders-data/).severity, 'BLOCK');
  assert.match(row('storage-class', /orders-data/).fix, /map-storage-class.*fast-ssd: standard/);
  assert.equal(row('api', /networking\.istio\.io\/v1 VirtualService/).severity, 'BLOCK');
  assert.match(row('api', /VirtualService/).message, /CustomResourceDefinition is missing/);
  assert.deepEqual([row('api', /v2beta2/).severity, row('api', /v2beta2/).fix], ['BLOCK', 'convert to autoscaling/v2 HorizontalPodAutoscaler']);
  assert.equal(row('ingress-class', /Ingress shop\/orders/).severity, 'BLOCK');
  assert.equal(row('reference', /Secret\/shop\/orders-credentials/).severity, 'BLOCK');
  assert.equal(row('exposure', /Service shop\/orders/).severity, 'WARN');
  assert.match(row('exposure', /Service shop\/orders/).message, /node ports 31080 will change/);
  assert.equal(row('namespace', /shop/).severity, 'WARN');
  assert.equal(row('capacity', /requests.cpu/).severity, 'OK');
  assert.match(row('capacity', /requests.cpu/).message, /plan requests 500m/);
  // Blocks come first so they are read first.
  assert.equal(report.rows[0].severity, 'BLOCK');

  const table = await ferryAsync(['preflight', join(lab.dir, 'plan.yaml'), '--kubeconfig', lab.kubeconfigFile]);
  assert.equal(table.code, 1);
  assert.match(table.stdout, /^BLOCK\s+storage-class\s+PersistentVolumeClaim shop\/orders-data/m);
  assert.match(table.stdout, /BLOCK, \d+ WARN, \d+ OK: blocked/);
});

test('mapping the storage class and installing the CRD turns those rows OK', async () => {
  const installed = await lab.kubectl(['apply', '--server-side', '-f', `${SHARED}/crds/istio.yaml`], 'target');
  assert.equal(installed.code, 0, installed.stderr);
  await lab.clusters[0]!.settled();
  const plan = (await ferryAsync(['plan', '--manifests', FIXTURE, '--to', 'target'])).stdout
    .replace('  transforms:\n    - name: strip-server-fields\n', '  transforms:\n    - name: strip-server-fields\n    - name: map-storage-class\n      with:\n        fast-ssd: standard\n');
  assert.match(plan, /fast-ssd: standard/);
  const { row } = await preflight(plan, 'mapped.yaml');
  assert.equal(row('storage-class', /orders-data/).severity, 'OK');
  assert.equal(row('api', /VirtualService/).severity, 'OK');
});

test('an unreachable target is one BLOCK row, not a crash', async () => {
  const plan = (await ferryAsync(['plan', '--manifests', FIXTURE, '--to', 'target'])).stdout;
  lab.clusters[0]!.setFaults({ errorRate: 1 });
  const { result, report } = await preflight(plan, 'down.yaml');
  lab.clusters[0]!.setFaults({});
  assert.equal(result.code, 1);
  assert.deepEqual(report.rows.map((r: any) => [r.severity, r.check]), [['BLOCK', 'connectivity']]);
});

test('bridges without an east-west gateway, or with a source read from files, are BLOCK rows naming what to install or set', async () => {
  const plan = await ferryAsync(['plan', '--manifests', `${SHARED}/fixtures/upstream/online-boutique.yaml`, '--to', 'target', '--kubeconfig', lab.kubeconfigFile, '--bridges', 'endpoints']);
  assert.equal(plan.code, 0, plan.stderr);
  const { result, row } = await preflight(plan.stdout, 'bridged.yaml');
  assert.equal(result.code, 1);
  assert.equal(row('bridges', /source/).severity, 'BLOCK');
  assert.match(row('bridges', /source/).message, /reads it from files/);
  assert.equal(row('bridges', /target cluster's east-west gateway/).severity, 'BLOCK');
  assert.match(row('bridges', /target cluster's east-west gateway/).message, /no east-west gateway/);
  assert.match(row('bridges', /target cluster's east-west gateway/).fix, /spec\.bridges/);
});
