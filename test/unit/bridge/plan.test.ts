import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { bridgeKey, plannedBridges } from '../../../src/bridge/plan.js';
import type { Wave } from '../../../src/plan/schema.js';
import { BOUTIQUE } from '../../helpers/cli.js';

type Call = Wave['crossClusterCalls'][number];

test('Online Boutique: each wave bridges every Service its cross-cluster calls go through, on the callers\' cluster', () => {
  const plan = generatePlan(inventoryFromManifests({ manifests: BOUTIQUE }).objects, { source: { manifests: BOUTIQUE }, target: { context: 'target' } });
  const waves = plannedBridges(plan.spec.waves);
  assert.equal(waves.length, plan.spec.waves.length);
  const first = waves[0]!;
  // Consumers first: the first wave moves callers (the load generator, the frontend), so its calls go target→source.
  assert.ok(first.bridges.length > 0, 'the first wave has cross-cluster calls to bridge');
  for (const bridge of first.bridges) {
    assert.equal(bridge.callerCluster, 'target');
    assert.equal(bridge.servingCluster, 'source');
    assert.equal(bridge.when, 'before-wave');
  }
  const frontendCalls = waves.flatMap((wave) => wave.bridges).filter((bridge) => bridge.callers.includes('Deployment/default/frontend'));
  assert.ok(frontendCalls.some((bridge) => bridge.service === 'cartservice' && bridge.namespace === 'default'), 'the frontend\'s CART_SERVICE_ADDR is bridged');
  // A bridge the next wave no longer needs is listed as retired there (its callee arrived).
  for (let index = 1; index < waves.length; index++) {
    const before = new Set(waves[index - 1]!.bridges.map(bridgeKey));
    const now = new Set(waves[index]!.bridges.map(bridgeKey));
    assert.deepEqual(waves[index]!.retired.map(bridgeKey).sort(), [...before].filter((key) => !now.has(key)).sort());
  }
  assert.deepEqual(waves.flatMap((wave) => wave.unbridged), [], 'Online Boutique calls only through Services');
});

const name = fc.constantFrom('cart', 'checkout', 'currency', 'email', 'frontend', 'payment', 'redis-cart');
const namespace = fc.constantFrom('shop', 'default');
const viaArb = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(name, namespace, name).map(([from, ns, to]) => `Deployment/${ns}/${from} → Service/${ns}/${to}`) },
  { weight: 1, arbitrary: fc.tuple(name, namespace, name).map(([from, ns, to]) => `Deployment/${ns}/${from} → Deployment/${ns}/${to}`) },
);
const callArb: fc.Arbitrary<Call> = fc.record({
  from: name,
  to: name,
  direction: fc.constantFrom('target→source' as const, 'source→target' as const),
  via: fc.array(viaArb, { minLength: 1, maxLength: 3 }),
});

test('every Service a cross-cluster call goes through gets exactly one bridge, on the callers\' cluster, aimed at the other', () => {
  fc.assert(fc.property(fc.array(fc.array(callArb, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), (callsPerWave) => {
    const waves = callsPerWave.map((crossClusterCalls, index) => ({ name: `wave-${index + 1}`, crossClusterCalls }));
    const planned = plannedBridges(waves);
    planned.forEach((wave, index) => {
      const keys = wave.bridges.map(bridgeKey);
      assert.equal(new Set(keys).size, keys.length, 'no Service is bridged twice on one cluster');
      for (const call of callsPerWave[index]!) {
        const callerCluster = call.direction === 'target→source' ? 'target' : 'source';
        for (const via of call.via) {
          const [from, to] = via.split(' → ') as [string, string];
          const [kind, ns, service] = to.split('/') as [string, string, string];
          if (kind !== 'Service') {
            assert.ok(wave.unbridged.some((entry) => entry.via === via), `${via} is reported as unbridged`);
            continue;
          }
          const matching = wave.bridges.filter((bridge) => bridge.namespace === ns && bridge.service === service && bridge.callerCluster === callerCluster);
          assert.equal(matching.length, 1, `${via} (${call.direction}) has one bridge`);
          assert.notEqual(matching[0]!.servingCluster, matching[0]!.callerCluster);
          assert.ok(matching[0]!.callers.includes(from));
          assert.ok(matching[0]!.calls.includes(`${call.from} → ${call.to}`));
        }
      }
      // Nothing is bridged that no call needs.
      for (const bridge of wave.bridges) {
        assert.ok(callsPerWave[index]!.some((call) => call.via.some((via) => via.endsWith(`→ Service/${bridge.namespace}/${bridge.service}`)) && (call.direction === 'target→source') === (bridge.callerCluster === 'target')));
      }
    });
    // Pure and deterministic: the same waves give the same bridges.
    assert.deepEqual(plannedBridges(waves), planned);
  }), { numRuns: 300 });
});
