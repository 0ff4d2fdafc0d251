import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BOUTIQUE, ferry } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferry-plan-runs-'));
const ROUTER = ['--traffic', 'router', '--router-admin-url', 'http://127.0.0.1:9901'];
const PROMETHEUS = ['--prometheus', 'http://127.0.0.1:9090'];

function planFile(name: string, args: string[]): { file: string; text: string } {
  const result = ferry(['plan', '--manifests', BOUTIQUE, '--to', 'target', ...args, '-o', 'yaml']);
  assert.equal(result.code, 0, result.stderr);
  const file = join(tmp, name);
  writeFileSync(file, result.stdout);
  return { file, text: result.stdout };
}

test('Online Boutique planned with --traffic router and --prometheus: byte-identical, only frontend ramps, ferry validate passes', () => {
  const first = planFile('router.yaml', [...ROUTER, ...PROMETHEUS]);
  const second = planFile('router-again.yaml', [...ROUTER, ...PROMETHEUS]);
  assert.equal(second.text, first.text);

  const plan = parse(first.text);
  const slices: Array<{ name: string; traffic?: { provider: unknown } }> = plan.spec.waves.flatMap((wave: { slices: unknown[] }) => wave.slices);
  const ramped = slices.filter((slice) => slice.traffic?.provider !== 'none');
  assert.deepEqual(ramped.map((slice) => slice.name), ['frontend']);
  assert.deepEqual(ramped[0]!.traffic!.provider, { type: 'router', adminUrl: 'http://127.0.0.1:9901', route: 'frontend', tokenEnv: 'FERRY_ROUTER_TOKEN' });
  assert.equal(plan.metadata.annotations['ferry.dev/edge-slices'], 'frontend: Service default/frontend-external is a LoadBalancer');
  assert.deepEqual(plan.spec.metrics, { provider: 'prometheus', url: 'http://127.0.0.1:9090', scrapeInterval: '5s' });

  const validated = ferry(['validate', first.file], { env: { FERRY_ROUTER_TOKEN: 'secret-token' } });
  assert.equal(validated.code, 0, validated.stdout + validated.stderr);
  assert.equal(validated.stdout, `valid: ${first.file}\n`);
  // On a machine without the token it still validates, and says which variable the run will need.
  const elsewhere = ferry(['validate', first.file], { env: { FERRY_ROUTER_TOKEN: '' } });
  assert.equal(elsewhere.code, 0, elsewhere.stdout);
  assert.match(elsewhere.stdout, /warning: spec\.waves\[\d+\]\.slices\[\d+\]\.traffic\.provider\.tokenEnv: environment variable FERRY_ROUTER_TOKEN is not set/);
});

test('the same plan without --traffic: ferry validate exits 1 with the message ferry run stops with', () => {
  const { file } = planFile('bare.yaml', PROMETHEUS);
  const validated = ferry(['validate', file]);
  assert.equal(validated.code, 1, validated.stdout);
  const errors = validated.stdout.split('\n').filter((line) => line.includes(': error: '));
  assert.equal(errors.length, 1, validated.stdout);
  const [, field, message] = /: error: (\S+): (.*) \(fix: /.exec(errors[0]!)!;
  assert.equal(field, 'spec.defaults.traffic.provider');
  assert.equal(message, 'slice frontend names the router traffic provider without its settings');

  const run = ferry(['run', file, '--state-dir', join(tmp, 'state')], { env: { FERRY_ROUTER_TOKEN: 'secret-token' } });
  assert.equal(run.code, 1, run.stderr);
  const refusal = run.stderr.split('\n').filter((line) => line.startsWith('error: '));
  assert.equal(refusal.length, 1, run.stderr);
  assert.ok(refusal[0]!.includes(`: ${message} (fix: `), `ferry run said: ${refusal[0]}`);
});

test('--traffic with a provider setting missing is a usage error naming the flag', () => {
  const result = ferry(['plan', '--manifests', BOUTIQUE, '--traffic', 'haproxy']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: --traffic haproxy: needs --haproxy-socket/);
});
