import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { PROVIDER_CAPABILITIES } from '../../../src/plan/provider-capabilities.js';
import type { TrafficChoice } from '../../../src/plan/traffic-choice.js';
import type { ClusterObjects } from '../../../src/traffic/cluster-objects.js';
import { createTrafficProvider } from '../../../src/traffic/index.js';
import { BOUTIQUE } from '../../helpers/cli.js';

const boutique = inventoryFromManifests({ manifests: BOUTIQUE }).objects;
const addresses = { sourceAddresses: ['192.0.2.10'], targetAddresses: ['192.0.2.20'] };
// Building a provider touches no cluster; reading its capabilities must not either.
const unreachable: ClusterObjects = {
  apply: () => Promise.reject(new Error('not reached')),
  get: () => Promise.reject(new Error('not reached')),
  delete: () => Promise.reject(new Error('not reached')),
};

const choices: TrafficChoice[] = [
  { kind: 'router', router: { adminUrl: 'http://127.0.0.1:9901' } },
  { kind: 'haproxy', haproxy: { socket: '127.0.0.1:9999' } },
  { kind: 'istio' },
  { kind: 'gateway-api', gatewayApi: { gateway: 'gateways/public' } },
  { kind: 'ingress-nginx', domain: 'shop.example' },
  { kind: 'powerdns', powerdns: { apiUrl: 'http://127.0.0.1:8081', zone: 'shop.example.' }, ...addresses },
  { kind: 'route53', route53: { hostedZoneId: 'Z0123' }, domain: 'shop.example', ...addresses },
];

for (const choice of choices) {
  test(`${choice.kind}: the plan's capability table matches the provider, which accepts the generated settings`, () => {
    const plan = generatePlan(boutique, { source: { context: 'source' }, target: { context: 'target' }, traffic: choice });
    const settings = plan.spec.waves.flatMap((wave) => wave.slices).find((slice) => slice.name === 'frontend')!.traffic!.provider;
    const provider = createTrafficProvider(settings, { cluster: unreachable, env: {} });
    const table = PROVIDER_CAPABILITIES[provider.type];
    const actual = provider.capabilities as { mirror: boolean; mirrorPercent: boolean; sticky: boolean; compare?: boolean };
    assert.deepEqual(
      { mirror: table.mirror, mirrorPercent: table.mirrorPercent, sticky: table.sticky, compare: table.compare, setsStickiness: table.setsStickiness },
      { mirror: actual.mirror, mirrorPercent: actual.mirrorPercent, sticky: actual.sticky, compare: actual.compare ?? false, setsStickiness: typeof provider.setStickiness === 'function' },
    );
  });
}
