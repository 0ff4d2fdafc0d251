import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppStage, type Hop } from './app-stage.js';

/** The clusters that served `service` in one answer. */
function servedBy(tree: Hop | undefined, service: string): string[] {
  const found: string[] = [];
  const walk = (hop: Hop) => {
    if (hop.service === service) found.push(hop.cluster);
    for (const child of hop.calls ?? []) walk(child);
  };
  if (tree) walk(tree);
  return found;
}

/** The whole application ramped wave by wave, its internal slices in the mesh; the cart's share of calls at 50 %. */
async function rampWholeApplication(protocol: 'http' | 'grpc'): Promise<void> {
  const stage = await startAppStage({ protocol });
  try {
    const { file, plan } = await stage.writePlan('internal-ramps', undefined, ['--internal-ramps', 'istio']);
    const cart = plan.spec.waves.flatMap((wave: any) => wave.slices).find((slice: any) => slice.name === 'cartservice');
    assert.equal(cart.traffic.provider.type, 'istio', 'the cart ramps in the mesh');
    assert.deepEqual(cart.traffic.provider.target.labels, { 'topology.istio.io/cluster': 'target' });
    const users = stage.load(10);
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-internal-ramps-'));
    const run = stage.ferry(['run', file, '--state-dir', stateDir, '-o', 'json']);
    const code = await run.closed;
    const answers = await users.stop();
    assert.equal(code, 0, run.stderr.slice(-3000));
    const failed = answers.filter((answer) => answer.status !== 200);
    assert.equal(failed.length, 0, `failed calls: ${failed.slice(0, 3).map((a) => `${a.status} ${a.error}`).join(' | ')}`);

    const journal = stage.journal(stateDir, JSON.parse(run.stdout).id);
    const weights = journal.filter((record) => record.type === 'weight-set' && record.data.slice === 'cartservice');
    assert.deepEqual(weights.map((record) => record.data.weight), [50, 100], 'the cart went 50 % then 100 %');
    // While at 50 %, callers on the target reached the cart on both clusters.
    const half = Date.parse(weights[0].at);
    const full = Date.parse(weights[1].at);
    const during = answers.filter((answer) => answer.at > half + 200 && answer.at < full - 200).flatMap((answer) => servedBy(answer.tree, 'cartservice'));
    assert.ok(during.includes('source') && during.includes('target'), `both sides served the cart at 50 %: ${during.length} hops`);
    if (protocol === 'grpc') {
      // Each gRPC call is routed on its own (a sidecar terminates HTTP/2), not each channel.
      const onTarget = during.filter((cluster) => cluster === 'target').length / during.length;
      assert.ok(onTarget > 0.35 && onTarget < 0.65, `half the cart's gRPC calls on the target at 50 %: ${(onTarget * 100).toFixed(0)} % of ${during.length}`);
    }
    const last = await stage.probe();
    assert.deepEqual([...new Set(servedBy(last.tree, 'cartservice'))], ['target']);
  } finally {
    await stage.stop();
  }
}


// Over HTTP the same path is taken by `ferry demo` (test/integration/demo): its boutique's internal ramps run on HTTP.
test('internal ramps over gRPC: the mesh splits each gRPC call by weight, the cart\'s calls half on each side at 50 %, with 0 failed calls', { timeout: 600_000 }, () => rampWholeApplication('grpc'));

/** The payment service's target copy fails every call (HTTP 500, gRPC UNAVAILABLE): its internal ramp's judge rolls it back. */
async function rollBackFaultyCallee(protocol: 'http' | 'grpc'): Promise<void> {
  const stage = await startAppStage({ protocol });
  try {
    const { file } = await stage.writePlan('faulty-payment', (plan) => {
      // The target's copy of the payment service is a release with a bug: every call fails.
      const payment = plan.spec.waves.flatMap((wave: any) => wave.slices).find((slice: any) => slice.name === 'paymentservice');
      payment.transforms = [{
        name: 'json-patch',
        with: { select: { kind: 'Deployment', name: 'paymentservice' }, patch: [{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'FERRY_FAULTS', value: '{"errorRate":1}' } }] },
      }];
    }, ['--internal-ramps', 'istio']);
    const users = stage.load(10);
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-faulty-payment-'));
    const run = stage.ferry(['run', file, '--state-dir', stateDir, '-o', 'json']);
    const code = await run.closed;
    const after = await stage.probe();
    await users.stop();
    assert.notEqual(code, 0);
    assert.ok(run.stdout.trim(), `the run printed no result: ${run.stderr.slice(-3000)}`);
    const journal = stage.journal(stateDir, JSON.parse(run.stdout).id);
    const failedStage = journal.find((record) => record.type === 'stage-failed' && record.data.slice === 'paymentservice');
    assert.equal(failedStage?.data.stage, 'ramp', JSON.stringify(failedStage));
    const rollback = journal.find((record) => record.type === 'rollback-slice' && record.data.slice === 'paymentservice');
    assert.equal(rollback?.data.reason, 'automatic');
    assert.equal(after.status, 200, after.error);
    assert.deepEqual([...new Set(servedBy(after.tree, 'paymentservice'))], ['source'], 'the callers reach the payment service on the source again');
    for (let i = 0; i < 10; i++) {
      const again = await stage.probe();
      assert.equal(again.status, 200, again.error);
      assert.deepEqual([...new Set(servedBy(again.tree, 'paymentservice'))], ['source']);
    }
  } finally {
    await stage.stop();
  }
}


test('an internal ramp of a gRPC callee whose target answers UNAVAILABLE is rolled back by its judge: every call answers from the source again', { timeout: 600_000 }, () => rollBackFaultyCallee('grpc'));
