/**
 * Service bridges against two lab clusters (simulated pods: these tests are about the objects
 * a bridge writes and puts back), read back with real kubectl: endpoints bridges in both
 * directions (a created selector-less Service; a taken-over Service whose selector comes back
 * exactly), idempotent ensure and remove, a bridge the callee's own Service replaces, the
 * refusals (a loop back to a bridge, someone else's endpoints), the Istio ServiceEntry against
 * the upstream CRD, MCS objects against the fixture CRDs (test/fixtures/bridge/mcs-crds.yaml),
 * and gateway discovery with its errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { kubeBridgeObjects, type BridgeClusters } from '../../../src/bridge/cluster.js';
import { ResourcePaths } from '../../../src/apply/resources.js';
import { createServiceBridge } from '../../../src/bridge/factory.js';
import { plannedBridges, type PlannedBridge } from '../../../src/bridge/plan.js';
import { resolveBridgeSpec } from '../../../src/bridge/resolve.js';
import { findGateway } from '../../../src/bridge/gateway.js';
import type { BridgeRecord, ClusterSide } from '../../../src/bridge/bridge.js';
import { FerryError } from '../../../src/util/errors.js';
import { REPO } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let clients: Record<ClusterSide, KubeClient>;
let clusters: BridgeClusters;
/** The application's own writes (as a CI pipeline would apply them, field manager team-shop-ci), not Ferry's. */
let team: Record<ClusterSide, { apply(object: KubeObject): Promise<void> }>;

const GATEWAYS = { source: '198.51.100.10', target: '203.0.113.20' } as const;
const FOREIGN_LB = 'example.com/not-the-lab';

before(async () => {
  lab = await startTestLab(['source', 'target']);
  clients = {
    source: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'source' })),
    target: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'target' })),
  };
  clusters = { source: kubeBridgeObjects(clients.source), target: kubeBridgeObjects(clients.target) };
  const teamOf = (client: KubeClient) => {
    const paths = new ResourcePaths(client);
    return {
      async apply(object: KubeObject) {
        await paths.refresh(); // CRDs come and go during the tests
        await client.request({ method: 'PATCH', path: paths.pathOf(object), query: { fieldManager: 'team-shop-ci', force: true }, body: JSON.stringify(object), contentType: 'application/apply-patch+yaml' });
      },
    };
  };
  team = { source: teamOf(clients.source), target: teamOf(clients.target) };
  for (const side of ['source', 'target'] as const) {
    for (const namespace of ['shop', 'ferry-system', 'istio-system', 'gw-test']) await team[side].apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    // A lab with service networking publishes this itself; simulated pods have none, so the test does (same shape).
    if (!(await clusters[side].get({ apiVersion: 'v1', kind: 'Service', namespace: 'ferry-system', name: 'east-west-gateway' }))) {
      await loadBalancer(side, 'ferry-system', 'east-west-gateway', [{ name: 'status-port', port: 15021 }, { name: 'tls', port: 15443 }], { ip: GATEWAYS[side] });
    }
  }
  await deployService('source', 'cartservice', 7070, 'grpc');
});

after(async () => {
  clients?.source.close();
  clients?.target.close();
  await lab?.stop();
});

async function loadBalancer(side: ClusterSide, namespace: string, name: string, ports: Array<{ name?: string; port: number }>, ingress?: { ip?: string; hostname?: string }, type = 'LoadBalancer'): Promise<void> {
  await team[side].apply({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace },
    spec: { type, ...(type === 'LoadBalancer' ? { loadBalancerClass: FOREIGN_LB } : {}), selector: { app: name }, ports: ports.map((port) => ({ ...port, protocol: 'TCP', targetPort: port.port })) },
  });
  if (ingress) {
    await clients[side].request({ method: 'PATCH', path: `/api/v1/namespaces/${namespace}/services/${name}/status`, body: { status: { loadBalancer: { ingress: [ingress] } } }, contentType: 'application/merge-patch+json' });
  }
}

/** A Deployment and its Service, as the application's team applies them. */
async function deployService(side: ClusterSide, name: string, port: number, portName?: string, env: Array<{ name: string; value: string }> = []): Promise<void> {
  const labels = { app: name, tier: 'backend' };
  await team[side].apply({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop' },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'server', image: `example.com/${name}:v1`, ports: [{ containerPort: port }], env }] } } },
  });
  await team[side].apply({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop', labels: { app: name, team: 'shop' } },
    spec: { selector: labels, ports: [{ ...(portName ? { name: portName } : {}), port, targetPort: port, protocol: 'TCP' }] },
  });
  await lab.clusters.find((cluster) => cluster.name === side)!.settled();
}

function planned(direction: 'target→source' | 'source→target', service: string, caller = 'frontend'): PlannedBridge {
  const [wave] = plannedBridges([{ name: 'wave-1', crossClusterCalls: [{ from: caller, to: service, direction, via: [`Deployment/shop/${caller} → Service/shop/${service}`] }] }]);
  assert.equal(wave!.bridges.length, 1);
  return wave!.bridges[0]!;
}

async function kubectlJson(args: string[], context: ClusterSide): Promise<any> {
  const result = await lab.kubectl([...args, '-o', 'json'], context);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function absent(args: string[], context: ClusterSide): Promise<void> {
  const result = await lab.kubectl(args, context);
  assert.notEqual(result.code, 0, `${args.join(' ')} still exists`);
  assert.match(result.stderr, /NotFound|not found/);
}

function versions(record: BridgeRecord): Promise<string[]> {
  return Promise.all(record.objects.map(async (object) => (await clusters[object.cluster].get(object))?.metadata.resourceVersion ?? 'missing'));
}

test('endpoints, target→source: a selector-less Service on the target with Endpoints and EndpointSlice at the source\'s gateway; ensure twice changes nothing; remove deletes exactly what it created', async () => {
  const bridge = createServiceBridge('endpoints', clusters);
  const spec = await resolveBridgeSpec(planned('target→source', 'cartservice'), clusters);
  assert.deepEqual(spec.gateway, { host: GATEWAYS.source, port: 15443 }, 'the source\'s gateway, from its LoadBalancer status and port named tls');
  assert.deepEqual(spec.ports, [{ name: 'grpc', port: 7070, protocol: 'TCP' }]);
  const record = await bridge.ensure(spec);
  assert.deepEqual(JSON.parse(JSON.stringify(record)), record, 'the record is plain JSON for the journal');
  assert.equal(record.restore, undefined);

  const service = await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'target');
  assert.equal(service.spec.selector, undefined, 'no selector: nothing on the target selects the callee yet');
  assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port]), [['grpc', 7070]]);
  assert.equal(service.metadata.labels['app.kubernetes.io/managed-by'], 'ferry');
  assert.equal(service.metadata.labels['ferry.dev/bridge'], 'cartservice');
  const slices = await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=cartservice', '--show-managed-fields'], 'target');
  assert.equal(slices.items.length, 1);
  const slice = slices.items[0];
  assert.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'ferry.dev');
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(slice.endpoints.map((e: any) => [e.addresses, e.conditions.ready]), [[[GATEWAYS.source], true]]);
  assert.deepEqual(slice.ports.map((p: any) => [p.name, p.port]), [['grpc', 15443]]);
  assert.ok(slice.metadata.managedFields.some((f: any) => f.manager === 'ferry-bridge' && f.operation === 'Apply'), 'server-side applied as ferry-bridge');
  const endpoints = await kubectlJson(['get', 'endpoints', 'cartservice', '-n', 'shop'], 'target');
  assert.deepEqual(endpoints.subsets.map((s: any) => [s.addresses.map((a: any) => a.ip), s.ports.map((p: any) => [p.name, p.port])]), [[[GATEWAYS.source], [['grpc', 15443]]]]);
  assert.deepEqual(await bridge.verify(record), []);

  const before = await versions(record);
  const again = await bridge.ensure(spec);
  assert.deepEqual(again, record, 'the same record');
  assert.deepEqual(await versions(again), before, 'a second ensure writes nothing');

  // A lost EndpointSlice is reported, and ensure puts it back.
  assert.equal((await lab.kubectl(['delete', 'endpointslice', 'cartservice-ferry-bridge', '-n', 'shop'], 'target')).code, 0);
  assert.deepEqual(await bridge.verify(record), ['EndpointSlice shop/cartservice-ferry-bridge is missing on cluster "target"']);
  await bridge.ensure(spec);
  assert.deepEqual(await bridge.verify(record), []);

  // Removed from the journal's copy of the record, by a bridge made afresh (a resumed run).
  const stored = JSON.parse(JSON.stringify(record)) as BridgeRecord;
  await createServiceBridge('endpoints', clusters).remove(stored);
  await absent(['get', 'service', 'cartservice', '-n', 'shop'], 'target');
  await absent(['get', 'endpoints', 'cartservice', '-n', 'shop'], 'target');
  assert.equal((await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'ferry.dev/bridge'], 'target')).items.length, 0);
  await bridge.remove(stored);
  const source = await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'source');
  assert.deepEqual(source.spec.selector, { app: 'cartservice', tier: 'backend' }, 'the source is not touched');
});

test('endpoints, source→target: the source\'s real Service loses its selector to the target\'s gateway and gets it back exactly', async () => {
  await deployService('target', 'cartservice', 7070, 'grpc'); // the callee moved
  const original = await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'source');
  const controllerSlices = await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=cartservice'], 'source');
  assert.equal(controllerSlices.items.length, 1);
  assert.equal(controllerSlices.items[0].metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');

  const bridge = createServiceBridge('endpoints', clusters);
  const wanted = planned('source→target', 'cartservice', 'checkoutservice');
  assert.equal(wanted.when, 'before-callee-retired');
  const spec = await resolveBridgeSpec(wanted, clusters);
  assert.deepEqual(spec.gateway, { host: GATEWAYS.target, port: 15443 });
  const record = await bridge.ensure(spec);
  assert.deepEqual(record.restore, { service: { cluster: 'source', namespace: 'shop', name: 'cartservice', selector: { app: 'cartservice', tier: 'backend' } } });
  assert.ok(record.objects.some((object) => object.kind === 'Service' && !object.created), 'the Service is recorded as not Ferry\'s');

  const service = await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'source');
  assert.equal(service.spec.selector, undefined);
  assert.equal(service.spec.clusterIP, original.spec.clusterIP, 'the same Service: callers keep its ClusterIP');
  assert.equal(service.metadata.annotations['ferry.dev/bridged-selector'], '{"app":"cartservice","tier":"backend"}');
  assert.equal(service.metadata.labels['ferry.dev/bridge'], undefined, 'not labelled as Ferry\'s: removal never deletes it');
  await lab.clusters[0]!.settled();
  const slices = await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=cartservice'], 'source');
  assert.deepEqual(slices.items.map((s: any) => [s.metadata.labels['endpointslice.kubernetes.io/managed-by'], s.endpoints.map((e: any) => e.addresses[0])]), [['ferry.dev', [GATEWAYS.target]]], 'the retired pods\' slice is gone; only the gateway');
  const endpoints = await kubectlJson(['get', 'endpoints', 'cartservice', '-n', 'shop'], 'source');
  assert.deepEqual(endpoints.subsets.map((s: any) => [s.addresses.map((a: any) => a.ip), s.ports.map((p: any) => p.port)]), [[[GATEWAYS.target], [15443]]]);
  assert.deepEqual(await bridge.verify(record), []);

  // Idempotent, also from the annotation alone (a run that lost track between the patch and the journal).
  const again = await bridge.ensure(spec);
  assert.deepEqual(again, record);

  await bridge.remove(record);
  await lab.clusters[0]!.settled();
  const restored = await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'source');
  assert.deepEqual(restored.spec, original.spec, 'the selector (and every other field) exactly as before');
  assert.deepEqual(restored.metadata.labels, original.metadata.labels);
  assert.equal(restored.metadata.annotations?.['ferry.dev/bridged-selector'], undefined);
  const after = await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=cartservice'], 'source');
  assert.deepEqual(after.items.map((s: any) => s.metadata.labels['endpointslice.kubernetes.io/managed-by']), ['endpointslice-controller.k8s.io'], 'the controller\'s slice is back, ours gone');
  const endpointsAfter = await kubectlJson(['get', 'endpoints', 'cartservice', '-n', 'shop'], 'source');
  assert.ok(!JSON.stringify(endpointsAfter.subsets ?? []).includes(GATEWAYS.target), 'the endpoints are the pods\' again');
  assert.equal(endpointsAfter.metadata.labels?.['ferry.dev/bridge'], undefined);
  await bridge.remove(record);
  assert.deepEqual((await kubectlJson(['get', 'service', 'cartservice', '-n', 'shop'], 'source')).spec, original.spec, 'a second remove changes nothing');
});

test('endpoints: the callee\'s own Service replaces the bridge, and a bridge back to a bridge is refused as a loop', async () => {
  await deployService('source', 'currencyservice', 7000, 'grpc');
  const bridge = createServiceBridge('endpoints', clusters);
  const record = await bridge.ensure(await resolveBridgeSpec(planned('target→source', 'currencyservice'), clusters));

  await assert.rejects(resolveBridgeSpec(planned('source→target', 'currencyservice'), clusters), (error: unknown) => {
    assert.ok(error instanceof FerryError);
    assert.match(error.message, /Service shop\/currencyservice does not serve on the target cluster \("target"\): it is itself a bridge to the other cluster, so bridging to it would loop/);
    assert.match(error.fix ?? '', /only once slice currencyservice serves on the target cluster/);
    return true;
  });

  // The callee's slice is applied on the target (field manager ferry, as apply does): its Service gets a selector.
  await deployService('target', 'currencyservice', 7000, 'grpc');
  await bridge.remove(record);
  const service = await kubectlJson(['get', 'service', 'currencyservice', '-n', 'shop'], 'target');
  assert.deepEqual(service.spec.selector, { app: 'currencyservice', tier: 'backend' }, 'the real Service stays');
  assert.equal(service.metadata.labels['ferry.dev/bridge'], undefined, 'without the bridge\'s labels');
  assert.equal(service.metadata.labels['app.kubernetes.io/managed-by'], undefined);
  assert.equal(service.metadata.labels.team, 'shop');
  assert.equal((await kubectlJson(['get', 'endpointslices', '-n', 'shop', '-l', 'endpointslice.kubernetes.io/managed-by=ferry.dev'], 'target')).items.length, 0);
});

test('endpoints: a Service that is someone else\'s endpoints, or an ExternalName, is refused with the fix', async () => {
  await deployService('source', 'legacy', 8080, 'http');
  await team.target.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'legacy', namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] } });
  const bridge = createServiceBridge('endpoints', clusters);
  const spec = await resolveBridgeSpec(planned('target→source', 'legacy'), clusters);
  await assert.rejects(bridge.ensure(spec), (error: unknown) => error instanceof FerryError && /has no selector and Ferry did not create it: its endpoints are someone else's/.test(error.message) && /delete it or give it a selector/.test(error.fix ?? ''));
  await team.target.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'legacy', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'legacy.example.com', ports: null } });
  await assert.rejects(bridge.ensure(spec), /is of type ExternalName/);
});

test('gateway discovery: the plan\'s address, the Istio gateway\'s port named tls, and clear errors when absent, pending or unreachable', async () => {
  const target = clusters.target;
  assert.deepEqual(await findGateway(target, { side: 'target', explicit: '10.9.8.7:15443' }), { host: '10.9.8.7', port: 15443 });
  await loadBalancer('target', 'istio-system', 'istio-eastwestgateway', [{ name: 'status-port', port: 15021 }, { name: 'tls', port: 15443 }, { name: 'tls-istiod', port: 15012 }], { hostname: 'a1b2c3.elb.example.com' });
  assert.deepEqual(await findGateway(target, { side: 'target', provider: 'istio' }), { host: 'a1b2c3.elb.example.com', port: 15443 }, 'Istio users\' gateway first');
  assert.deepEqual(await findGateway(target, { side: 'target' }), { host: GATEWAYS.target, port: 15443 }, 'Ferry\'s name first otherwise');

  const refusal = async (lookup: Parameters<typeof findGateway>[1], message: RegExp, fix: RegExp) => {
    await assert.rejects(findGateway(target, lookup), (error: unknown) => {
      assert.ok(error instanceof FerryError, String(error));
      assert.match(error.message, message);
      assert.match(error.fix ?? '', fix);
      return true;
    });
  };
  await refusal({ side: 'target', service: 'gw-test/missing' }, /the target cluster \("target"\) has no east-west gateway: no Service gw-test\/missing/, /spec\.bridges\.gatewayService: namespace\/name, or give its address as spec\.bridges\.gateways\.target: host:port/);
  await loadBalancer('target', 'gw-test', 'pending', [{ name: 'tls', port: 15443 }]);
  await refusal({ side: 'target', service: 'gw-test/pending' }, /Service gw-test\/pending on the target cluster \("target"\) has no address: its load balancer is <pending>/, /load-balancer controller.*spec\.bridges\.gateways\.target: host:port/);
  await loadBalancer('target', 'gw-test', 'internal', [{ name: 'tls', port: 15443 }], undefined, 'ClusterIP');
  await refusal({ side: 'target', service: 'gw-test/internal' }, /it is of type ClusterIP, which other clusters cannot reach/, /make Service gw-test\/internal type LoadBalancer/);
  await loadBalancer('target', 'gw-test', 'two-ports', [{ name: 'http', port: 80 }, { name: 'https', port: 443 }], { ip: '192.0.2.1' });
  await refusal({ side: 'target', service: 'gw-test/two-ports' }, /has ports http, https and none named "tls"/, /set spec\.bridges\.gateways\.target: 192\.0\.2\.1:<port>/);
  await refusal({ side: 'source', explicit: '10.0.0.1' }, /spec\.bridges\.gateways\.source: "10\.0\.0\.1" is not host:port/, /host:port/);
});

function crds(file: string, kinds: string[]): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object?.kind === 'CustomResourceDefinition' && kinds.includes((object.spec as { names: { kind: string } }).names.kind));
}

test('istio: a ServiceEntry for the callee\'s cluster.local host at the source\'s gateway, accepted by the upstream CRD; refused with the fix where Istio is not installed', async () => {
  await deployService('source', 'paymentservice', 50051, 'grpc');
  const spec = await resolveBridgeSpec(planned('target→source', 'paymentservice'), clusters, { provider: 'istio' });
  const bridge = createServiceBridge('istio', clusters, { istio: { networks: { source: 'network-source' } } });
  await assert.rejects(bridge.ensure(spec), (error: unknown) => error instanceof FerryError && /does not serve networking\.istio\.io\/v1 ServiceEntry/.test(error.message) && /install Istio/.test(error.fix ?? ''));

  for (const crd of crds('/work/shared/crds/istio.yaml', ['ServiceEntry'])) await team.target.apply(crd);
  await lab.clusters[1]!.settled();
  const record = await bridge.ensure(spec);
  const entry = await kubectlJson(['get', 'serviceentries.networking.istio.io', 'paymentservice-ferry-bridge', '-n', 'shop'], 'target');
  assert.deepEqual(entry.spec, {
    hosts: ['paymentservice.shop.svc.cluster.local'],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    ports: [{ number: 50051, name: 'grpc', protocol: 'GRPC' }],
    endpoints: [{ address: GATEWAYS.source, ports: { grpc: 15443 }, network: 'network-source', labels: { 'topology.istio.io/network': 'network-source' } }],
  });
  assert.equal(entry.metadata.labels['ferry.dev/bridge'], 'paymentservice');
  assert.ok(record.warnings.some((warning) => /Istio's DNS proxying/.test(warning)), 'no Service of that name on the target: callers need Istio DNS');
  assert.deepEqual(await bridge.verify(record), []);
  assert.deepEqual(await bridge.ensure(spec), record);
  await bridge.remove(record);
  await absent(['get', 'serviceentries.networking.istio.io', 'paymentservice-ferry-bridge', '-n', 'shop'], 'target');
  assert.deepEqual(await bridge.verify(record), ['ServiceEntry shop/paymentservice-ferry-bridge is missing on cluster "target"']);
});

test('mcs: ServiceExport on the serving cluster, ServiceImport on the callers\' only when told, and a warning for each caller reference MCS will not redirect', async () => {
  await deployService('source', 'emailservice', 5000, 'grpc');
  await deployService('source', 'frontend', 8080, 'http', [
    { name: 'EMAIL_SERVICE_ADDR', value: 'emailservice:5000' },
    { name: 'EMAIL_FALLBACK', value: 'emailservice.shop.svc.clusterset.local:5000' },
    { name: 'CART_SERVICE_ADDR', value: 'cartservice:7070' },
  ]);
  const spec = await resolveBridgeSpec(planned('target→source', 'emailservice'), clusters, { provider: 'mcs' });
  const bridge = createServiceBridge('mcs', clusters, { mcs: { createServiceImport: true } });
  await assert.rejects(bridge.ensure(spec), (error: unknown) => error instanceof FerryError && /does not serve multicluster\.x-k8s\.io\/v1alpha1 ServiceExport/.test(error.message) && /Multi-Cluster Services API/.test(error.fix ?? ''));

  const fixture = `${REPO}/test/fixtures/bridge/mcs-crds.yaml`;
  for (const side of ['source', 'target'] as const) for (const crd of crds(fixture, ['ServiceExport', 'ServiceImport'])) await team[side].apply(crd);
  await Promise.all(lab.clusters.map((cluster) => cluster.settled()));
  const record = await bridge.ensure(spec);
  const exported = await kubectlJson(['get', 'serviceexports.multicluster.x-k8s.io', 'emailservice', '-n', 'shop'], 'source');
  assert.equal(exported.metadata.labels['ferry.dev/bridge'], 'emailservice');
  const imported = await kubectlJson(['get', 'serviceimports.multicluster.x-k8s.io', 'emailservice', '-n', 'shop'], 'target');
  assert.deepEqual(imported.spec, { type: 'ClusterSetIP', ports: [{ name: 'grpc', port: 5000, protocol: 'TCP' }] });
  assert.equal(record.warnings.length, 1, JSON.stringify(record.warnings));
  assert.match(record.warnings[0]!, /^Deployment\/shop\/frontend names emailservice by cluster\.local forms MCS does not redirect: container server env EMAIL_SERVICE_ADDR \(emailservice\); change them to emailservice\.shop\.svc\.clusterset\.local/);
  assert.deepEqual(await bridge.verify(record), []);
  assert.deepEqual(await bridge.ensure(spec), record);

  // Without createServiceImport Ferry writes no import, and verify says who should have.
  const withController = createServiceBridge('mcs', clusters);
  await bridge.remove(record);
  await absent(['get', 'serviceexports.multicluster.x-k8s.io', 'emailservice', '-n', 'shop'], 'source');
  await absent(['get', 'serviceimports.multicluster.x-k8s.io', 'emailservice', '-n', 'shop'], 'target');
  const exportOnly = await withController.ensure(spec);
  assert.deepEqual(exportOnly.objects.map((object) => [object.cluster, object.kind]), [['source', 'ServiceExport']]);
  assert.deepEqual(await withController.verify(exportOnly), ['ServiceImport shop/emailservice is missing on cluster "target": the clusterset\'s MCS controller has not imported the export (yet); set spec.bridges.mcs.createServiceImport: true if the clusterset has none']);
  await withController.remove(exportOnly);

  // An export the user made is used, not owned: removal leaves it.
  await team.source.apply({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'emailservice', namespace: 'shop' } });
  const theirs = await withController.ensure(spec);
  assert.deepEqual(theirs.objects.map((object) => object.created), [false]);
  await withController.remove(theirs);
  assert.ok(await clusters.source.get({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', namespace: 'shop', name: 'emailservice' }), 'the user\'s ServiceExport stays');
});
