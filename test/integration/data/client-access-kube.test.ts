/**
 * The two Kubernetes ways applications reach a database (data.clientAccess of type service
 * and externalName), against lab clusters and read back with real kubectl: the address
 * follows pointTo on every listed cluster, a repeated pointTo writes nothing (same
 * resourceVersions), current() reads the clusters, and a Service that is not Ferry's to
 * rewrite is refused with the fix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { createClientAccess } from '../../../src/data/client-access/index.js';
import type { Side } from '../../../src/data/provider.js';
import { FerryError } from '../../../src/util/errors.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let clients: Record<Side, KubeClient>;

before(async () => {
  lab = await startTestLab(['source', 'target']);
  clients = {
    source: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'source' })),
    target: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'target' })),
  };
});

after(async () => {
  clients?.source.close();
  clients?.target.close();
  await lab?.stop();
});

async function kubectlJson(args: string[], context: Side): Promise<any> {
  const result = await lab.kubectl([...args, '-o', 'json'], context);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test('service: the EndpointSlice and Endpoints of a selector-less Service follow pointTo on both clusters', async () => {
  const disconnected: Side[] = [];
  const access = createClientAccess(
    { type: 'service', namespace: 'default', name: 'shop-db', port: 5432, portName: 'postgres', sourceAddress: '10.1.0.5:5432', targetAddress: '10.2.0.7:6432' },
    { clusters: clients, disconnect: async (side) => void disconnected.push(side) },
  );
  assert.equal(await access.current(), 'unknown', 'nothing written yet');

  await access.pointTo('source');
  for (const context of ['source', 'target'] as const) {
    const service = await kubectlJson(['get', 'service', 'shop-db', '-n', 'default'], context);
    assert.equal(service.spec.selector, undefined);
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port]), [['postgres', 5432]]);
    const slices = await kubectlJson(['get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=shop-db', '--show-managed-fields'], context);
    assert.equal(slices.items.length, 1);
    assert.equal(slices.items[0].addressType, 'IPv4');
    assert.deepEqual(slices.items[0].endpoints.map((e: any) => e.addresses), [['10.1.0.5']]);
    assert.deepEqual(slices.items[0].ports.map((p: any) => [p.name, p.port]), [['postgres', 5432]]);
    assert.ok(slices.items[0].metadata.managedFields.some((f: any) => f.manager === 'ferry' && f.operation === 'Apply'), 'server-side applied as ferry');
    const endpoints = await kubectlJson(['get', 'endpoints', 'shop-db', '-n', 'default'], context);
    assert.deepEqual(endpoints.subsets.map((s: any) => [s.addresses.map((a: any) => a.ip), s.ports.map((p: any) => p.port)]), [[['10.1.0.5'], [5432]]]);
  }
  assert.equal(await access.current(), 'source');

  await access.pointTo('target');
  for (const context of ['source', 'target'] as const) {
    const slices = await kubectlJson(['get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=shop-db'], context);
    assert.deepEqual(slices.items.map((s: any) => s.endpoints.map((e: any) => e.addresses)), [[['10.2.0.7']]]);
    assert.deepEqual(slices.items[0].ports.map((p: any) => p.port), [6432]);
    const endpoints = await kubectlJson(['get', 'endpoints', 'shop-db', '-n', 'default'], context);
    assert.deepEqual(endpoints.subsets[0].addresses.map((a: any) => a.ip), ['10.2.0.7']);
  }
  assert.equal(await access.current(), 'target');
  assert.deepEqual(disconnected, ['target', 'source'], 'sessions on the side left are ended each time the address moved');

  // Again: nothing changes, nothing is disconnected.
  const versions = async () => Promise.all((['source', 'target'] as const).map(async (context) => [
    (await kubectlJson(['get', 'service', 'shop-db', '-n', 'default'], context)).metadata.resourceVersion,
    (await kubectlJson(['get', 'endpointslice', 'shop-db-ferry', '-n', 'default'], context)).metadata.resourceVersion,
    (await kubectlJson(['get', 'endpoints', 'shop-db', '-n', 'default'], context)).metadata.resourceVersion,
  ]));
  const before = await versions();
  await access.pointTo('target');
  await access.pointTo('target');
  assert.deepEqual(await versions(), before);
  assert.deepEqual(disconnected, ['target', 'source']);

  // Someone edits the world behind Ferry's back: current() says so, and pointTo repairs it.
  const edited = await lab.kubectl(['patch', 'endpointslice', 'shop-db-ferry', '-n', 'default', '--type', 'merge', '-p', '{"endpoints":[{"addresses":["10.9.9.9"]}]}'], 'source');
  assert.equal(edited.code, 0, edited.stderr);
  assert.equal(await access.current(), 'unknown');
  await access.pointTo('target');
  assert.equal(await access.current(), 'target');
});

test('service: only the listed clusters are written, and a Service with a selector is refused', async () => {
  const access = createClientAccess(
    { type: 'service', namespace: 'default', name: 'orders-db', port: 5432, sourceAddress: '10.1.0.5:5432', targetAddress: '10.2.0.7:5432', clusters: ['target'] },
    { clusters: { target: clients.target } },
  );
  await access.pointTo('target');
  assert.equal(await access.current(), 'target');
  assert.equal((await lab.kubectl(['get', 'service', 'orders-db', '-n', 'default'], 'source')).code, 1, 'not written on the source cluster');

  const apply = await lab.kubectl(['create', 'service', 'clusterip', 'web', '--tcp=5432:5432', '-n', 'default'], 'target');
  assert.equal(apply.code, 0, apply.stderr);
  const selected = createClientAccess({ type: 'service', namespace: 'default', name: 'web', port: 5432, sourceAddress: '10.1.0.5:5432', targetAddress: '10.2.0.7:5432', clusters: ['target'] }, { clusters: clients });
  await assert.rejects(selected.pointTo('target'), (error: unknown) => {
    assert.ok(error instanceof FerryError);
    assert.match(error.message, /Service default\/web on cluster "target" has a selector/);
    assert.match(error.fix ?? '', /without a selector/);
    return true;
  });
  assert.throws(() => createClientAccess({ type: 'service', namespace: 'default', name: 'x', port: 5432, sourceAddress: '10.1.0.5:5432', targetAddress: '10.2.0.7:5432' }, { clusters: { target: clients.target } }), /writes to the source cluster, but no client/);
  assert.throws(() => createClientAccess({ type: 'service', namespace: 'default', name: 'x', port: 5432, sourceAddress: '10.1.0.5', targetAddress: '10.2.0.7:5432' } as never), (error: unknown) => {
    assert.ok(error instanceof FerryError);
    assert.equal(error.location.field, 'data.clientAccess.sourceAddress');
    return true;
  });
});

test('externalName: spec.externalName follows pointTo, repeats change nothing, current() reads it', async () => {
  const access = createClientAccess(
    { type: 'externalName', namespace: 'default', name: 'billing-db', sourceHost: 'pg-old.db.example.com', targetHost: 'pg-new.db.example.com' },
    { clusters: clients },
  );
  assert.equal(await access.current(), 'unknown');
  await access.pointTo('source');
  for (const context of ['source', 'target'] as const) {
    const service = await kubectlJson(['get', 'service', 'billing-db', '-n', 'default'], context);
    assert.equal(service.spec.type, 'ExternalName');
    assert.equal(service.spec.externalName, 'pg-old.db.example.com');
  }
  assert.equal(await access.current(), 'source');
  await access.pointTo('target');
  const versions = async () => Promise.all((['source', 'target'] as const).map(async (context) => (await kubectlJson(['get', 'service', 'billing-db', '-n', 'default'], context)).metadata.resourceVersion));
  const before = await versions();
  for (const context of ['source', 'target'] as const) {
    assert.equal((await kubectlJson(['get', 'service', 'billing-db', '-n', 'default'], context)).spec.externalName, 'pg-new.db.example.com');
  }
  assert.equal(await access.current(), 'target');
  await access.pointTo('target');
  assert.deepEqual(await versions(), before);

  // Only one cluster changed by hand: the two disagree, so the applications' side is unknown.
  const edited = await lab.kubectl(['patch', 'service', 'billing-db', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"externalName":"pg-old.db.example.com"}}'], 'target');
  assert.equal(edited.code, 0, edited.stderr);
  assert.equal(await access.current(), 'unknown');
  await access.pointTo('source');
  assert.equal(await access.current(), 'source');

  const clusterIp = createClientAccess({ type: 'externalName', namespace: 'default', name: 'kubernetes', sourceHost: 'a.example.com', targetHost: 'b.example.com' }, { clusters: clients });
  await assert.rejects(clusterIp.pointTo('target'), /is of type ClusterIP, not ExternalName/);
});
