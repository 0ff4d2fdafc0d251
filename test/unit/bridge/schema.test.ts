import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { parsePlan } from '../../../src/plan/load.js';
import { planJsonSchema } from '../../../src/plan/schema.js';
import { toYamlText } from '../../../src/util/output.js';
import { istioServiceEntry } from '../../../src/bridge/istio.js';
import type { BridgeSpec } from '../../../src/bridge/bridge.js';
import { parseHostPort } from '../../../src/bridge/gateway.js';
import { FerryError } from '../../../src/util/errors.js';

const PLAN = {
  apiVersion: 'ferry.dev/v1alpha1',
  kind: 'MigrationPlan',
  metadata: { name: 'shop' },
  spec: {
    source: { context: 'source' },
    target: { context: 'target' },
    defaults: { traffic: { steps: [100], stepWindow: '1s' }, gates: {}, analysis: {}, rollback: {}, decommission: {} },
    waves: [{ name: 'wave-1', slices: [{ name: 'frontend', namespace: 'shop', workloads: [], resources: [] }] }],
  },
};

function planWith(bridges: unknown): string {
  return toYamlText({ ...PLAN, spec: { ...PLAN.spec, bridges } });
}

test('spec.bridges: provider defaults to endpoints; gateways and gatewayService are read as written', () => {
  const { plan } = parsePlan(planWith({ gateways: { source: '203.0.113.7:15443', target: '[2001:db8::7]:15443' }, gatewayService: 'istio-system/istio-eastwestgateway' }), 'plan.yaml');
  assert.equal(plan.spec.bridges?.provider, 'endpoints');
  assert.equal(plan.spec.bridges?.gateways?.target, '[2001:db8::7]:15443');
  assert.equal(parsePlan(toYamlText(PLAN), 'plan.yaml').plan.spec.bridges, undefined, 'a plan without the block is unchanged');
  const schema = JSON.stringify(planJsonSchema());
  assert.ok(schema.includes('"bridges"') && schema.includes('clusterset.local'), '`ferry schema` exports the block');
});

test('spec.bridges: a wrong value is refused naming the field and the form expected', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ provider: 'submariner' }, 'spec.bridges.provider', /endpoints.*mcs.*istio.*none/],
    [{ gateways: { source: '203.0.113.7' } }, 'spec.bridges.gateways.source', /host:port/],
    [{ gateways: { target: 'gw.example.com:99999' } }, 'spec.bridges.gateways.target', /1-65535/],
    [{ gatewayService: 'istio-eastwestgateway' }, 'spec.bridges.gatewayService', /namespace\/name/],
    [{ gateway: '1.2.3.4:15443' }, 'spec.bridges', /unknown field "gateway"/],
  ];
  for (const [bridges, field, message] of cases) {
    assert.throws(() => parsePlan(planWith(bridges), 'plan.yaml'), (error: unknown) => {
      assert.ok(error instanceof FerryError);
      assert.equal(error.location.field, field);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /more problem/, 'one mistake, one message');
      assert.ok(error.location.line !== undefined, 'with its line in the file');
      return true;
    });
  }
  assert.throws(() => parseHostPort('gw:0', 'spec.bridges.gateways.source'), /spec\.bridges\.gateways\.source: "gw:0" is not host:port/);
  assert.deepEqual(parseHostPort('[::1]:15443', 'x'), { host: '::1', port: 15443 });
});

function serviceEntryValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const format of ['int32', 'int64', 'double', 'float', 'byte', 'date-time']) ajv.addFormat(format, true);
  for (const document of parseAllDocuments(readFileSync('/work/shared/crds/istio.yaml', 'utf8'))) {
    const crd = document.toJS() as { kind?: string; spec?: { names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: object } }> } } | null;
    if (crd?.kind === 'CustomResourceDefinition' && crd.spec?.names.kind === 'ServiceEntry') {
      return ajv.compile(crd.spec.versions.find((version) => version.name === 'v1')!.schema.openAPIV3Schema);
    }
  }
  throw new Error('no ServiceEntry CRD in istio.yaml');
}

test('the Istio bridge\'s ServiceEntry validates against the upstream CRD: named and unnamed ports, IP and DNS gateways, headless', () => {
  const validate = serviceEntryValidator();
  const base: BridgeSpec = {
    namespace: 'shop', service: 'cartservice', callerCluster: 'target', servingCluster: 'source',
    ports: [{ name: 'grpc', port: 7070, protocol: 'TCP' }], gateway: { host: '203.0.113.7', port: 15443 },
  };
  const specs: Array<[BridgeSpec, string | undefined]> = [
    [base, 'network-source'],
    [{ ...base, ports: [{ port: 6379, protocol: 'TCP' }] }, undefined],
    [{ ...base, ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }, { name: 'grpc-web', port: 8081, protocol: 'TCP' }] }, undefined],
    [{ ...base, gateway: { host: 'a1b2.elb.amazonaws.com', port: 15443 } }, 'net-2'],
    [{ ...base, service: 'db', headless: { hostnames: ['db-0', 'db-1'] } }, undefined],
  ];
  for (const [spec, network] of specs) {
    const entry = istioServiceEntry(spec, network);
    assert.ok(validate(entry), `${JSON.stringify(entry.spec)}: ${JSON.stringify(validate.errors, null, 2)}`);
    const body = entry.spec as { hosts: string[]; location: string; resolution: string; ports: Array<{ name: string }>; endpoints: Array<{ address: string; ports: Record<string, number>; network?: string }> };
    assert.equal(body.hosts[0], `${spec.service}.shop.svc.cluster.local`);
    assert.equal(body.location, 'MESH_INTERNAL');
    assert.equal(body.resolution, spec.gateway.host.startsWith('203.') ? 'STATIC' : 'DNS');
    assert.deepEqual(Object.keys(body.endpoints[0]!.ports), body.ports.map((port) => port.name), 'every service port maps to the gateway');
    assert.ok(Object.values(body.endpoints[0]!.ports).every((port) => port === 15443));
    assert.equal(body.endpoints[0]!.network, network);
  }
  assert.deepEqual((istioServiceEntry(specs[4]![0]).spec as { hosts: string[] }).hosts, ['db.shop.svc.cluster.local', 'db-0.db.shop.svc.cluster.local', 'db-1.db.shop.svc.cluster.local']);
});
