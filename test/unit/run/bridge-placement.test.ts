import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { neededBridges, type Placement } from '../../../src/run/bridge-placement.js';
import { BOUTIQUE } from '../../helpers/cli.js';

const plan = generatePlan(inventoryFromManifests({ manifests: BOUTIQUE }).objects, { source: { manifests: BOUTIQUE }, target: { context: 'target' } });
const slices = plan.spec.waves.flatMap((wave) => wave.slices);
const waveOf = (name: string) => plan.spec.waves.findIndex((wave) => wave.slices.some((s) => s.name === name));

/** Placement after waves 0..w-1 moved completely (applied, source retired) and wave w is starting. */
function afterWaves(moved: number, starting = false): Map<string, Placement> {
  return new Map<string, Placement>(slices.map((slice): [string, Placement] => {
    const wave = waveOf(slice.name);
    if (wave < moved) return [slice.name, { target: 'serving', sourceServing: false }];
    if (wave === moved && starting) return [slice.name, { target: 'starting', sourceServing: true }];
    return [slice.name, { target: 'absent', sourceServing: true }];
  }));
}

test('nothing moved: no bridge; everything moved: no bridge', () => {
  assert.deepEqual(neededBridges(plan, afterWaves(0)), []);
  assert.deepEqual(neededBridges(plan, afterWaves(plan.spec.waves.length)), []);
});

test('the first wave starting: its callers reach every callee Service still on the source, bridged on the target', () => {
  const bridges = neededBridges(plan, afterWaves(0, true));
  assert.ok(bridges.length > 0);
  for (const bridge of bridges) {
    assert.equal(bridge.callerCluster, 'target');
    assert.equal(bridge.servingCluster, 'source');
    assert.ok(bridge.callers.every((caller) => waveOf(caller) === 0));
    assert.ok(waveOf(bridge.callee) > 0);
  }
  // Online Boutique's loadgenerator calls the frontend; both are early, so the frontend is bridged while only the loadgenerator starts.
  const services = bridges.map((b) => `${b.namespace}/${b.service}`);
  assert.equal(new Set(services).size, services.length, 'one bridge per Service and cluster');
});

test('callers left on the source get a bridge to the target once their callee is retired there', () => {
  // Providers-last plan: move only the last wave (the deepest callees) and retire their source.
  const last = plan.spec.waves.length - 1;
  const placements = new Map(slices.map((slice) => [slice.name, waveOf(slice.name) === last ? { target: 'serving', sourceServing: false } as Placement : { target: 'absent', sourceServing: true } as Placement]));
  const bridges = neededBridges(plan, placements);
  assert.ok(bridges.length > 0);
  for (const bridge of bridges) {
    assert.equal(bridge.callerCluster, 'source');
    assert.equal(waveOf(bridge.callee), last);
  }
});

test('property: a bridge exists exactly when a caller runs where its callee does not serve and the callee serves on the other side', () => {
  const placementArb = fc.constantFrom<Placement>(
    { target: 'absent', sourceServing: true }, { target: 'starting', sourceServing: true },
    { target: 'serving', sourceServing: true }, { target: 'serving', sourceServing: false },
  );
  fc.assert(fc.property(fc.array(placementArb, { minLength: slices.length, maxLength: slices.length }), (chosen) => {
    const placements = new Map(slices.map((slice, i) => [slice.name, chosen[i]!]));
    const bridges = neededBridges(plan, placements);
    const keys = new Set(bridges.map((b) => `${b.callerCluster}:${b.namespace}/${b.service}`));
    for (const caller of slices) {
      const at = placements.get(caller.name)!;
      for (const calleeName of caller.dependsOn) {
        const callee = slices.find((s) => s.name === calleeName)!;
        const served = placements.get(calleeName)!;
        for (const service of callee.resources.filter((r) => r.kind === 'Service')) {
          const name = `${service.namespace ?? callee.namespace}/${service.name}`;
          if (at.target !== 'absent' && served.target !== 'serving' && served.sourceServing) assert.ok(keys.has(`target:${name}`), `target bridge for ${name}`);
          if (at.sourceServing && !served.sourceServing && served.target === 'serving') assert.ok(keys.has(`source:${name}`), `source bridge for ${name}`);
        }
      }
    }
    for (const bridge of bridges) {
      const served = placements.get(bridge.callee)!;
      assert.ok(bridge.servingCluster === 'target' ? served.target === 'serving' : served.sourceServing, 'a bridge points where the callee serves');
    }
  }), { numRuns: 200 });
});
