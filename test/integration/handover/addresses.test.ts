/**
 * Addresses that belong to the source cluster: a LoadBalancer Service with a static address
 * and a node port, and pods whose egress a payment provider allow-lists
 * (test/fixtures/handover/edge.yaml). Preflight warns about each; with the slice's
 * `keepAddresses: true` the node port is kept, and `ferry apply` puts the Service on the
 * lab's target with the same node port and address fields.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

const EDGE = `${REPO}/test/fixtures/handover/edge.yaml`;
let lab: TestLab;
before(async () => {
  lab = await startTestLab(['target']);
});
after(async () => {
  await lab?.stop();
});

async function planFile(name: string, keepAddresses: boolean): Promise<string> {
  const planned = await ferryAsync(['plan', '--manifests', EDGE, '--to', 'target', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  const plan = JSON.parse(planned.stdout);
  if (keepAddresses) plan.spec.waves.flatMap((wave: any) => wave.slices).find((slice: any) => slice.name === 'gateway').keepAddresses = true;
  const file = join(lab.dir, name);
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

async function rows(file: string): Promise<any[]> {
  const result = await ferryAsync(['preflight', file, '--kubeconfig', lab.kubeconfigFile, '-o', 'json']);
  return JSON.parse(result.stdout).rows;
}

test('preflight warns about a node port that changes, a static address the source holds, and allow-listed egress', async () => {
  const found = await rows(await planFile('plain.json', false));
  const of = (check: string, subject: string) => found.filter((row) => row.check === check && row.subject === subject);
  const service = of('addresses', 'Service edge/gateway');
  assert.ok(service.some((row) => row.severity === 'WARN' && /node port\(s\) 31080 of the source will change on the target/.test(row.message) && /keepAddresses: true/.test(row.fix)), JSON.stringify(service));
  assert.ok(service.some((row) => row.severity === 'WARN' && /same static address \(loadBalancerIP=203\.0\.113\.10, metallb\.universe\.tf\/loadBalancerIPs=203\.0\.113\.10\)/.test(row.message)));
  const [policy] = of('egress', 'NetworkPolicy edge/gateway-egress');
  assert.equal(policy.severity, 'WARN');
  assert.match(policy.message, /slice gateway \(Deployment edge\/gateway\): pods call fixed addresses outside the cluster \(198\.51\.100\.0\/24\); third parties there may allow-list the source cluster's egress addresses/);
  const [marked] = of('egress', 'Deployment edge/gateway');
  assert.match(marked.message, /egress\.ferry\.dev\/allow-listed \(payments\.example\.com\)/);
});

test('keepAddresses: the node port and the static address fields arrive on the target as they were', async () => {
  const file = await planFile('kept.json', true);
  const found = await rows(file);
  assert.ok(found.some((row) => row.check === 'addresses' && row.severity === 'OK' && /node port\(s\) 31080 kept on the target/.test(row.message)));
  assert.ok(!found.some((row) => row.check === 'addresses' && /will change/.test(row.message)));

  for (const slice of ['edge-unattached', 'gateway']) {
    const applied = await ferryAsync(['apply', file, '--slice', slice, '--kubeconfig', lab.kubeconfigFile, '-o', 'json']);
    assert.equal(applied.code, 0, applied.stderr);
  }
  const service = JSON.parse((await lab.kubectl(['get', 'service', 'gateway', '-n', 'edge', '-o', 'json'], 'target')).stdout);
  assert.equal(service.spec.ports[0].nodePort, 31080);
  assert.equal(service.spec.loadBalancerIP, '203.0.113.10');
  assert.equal(service.metadata.annotations['metallb.universe.tf/loadBalancerIPs'], '203.0.113.10');
});
