import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BOUTIQUE, REPO, ferry } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferry-cli-'));

function assertOneLineError(result: { code: number; stderr: string; stdout: string }, pattern: RegExp) {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

test('ferry plan on Online Boutique: waves in consumers-first order', () => {
  const result = ferry(['plan', '--manifests', BOUTIQUE, '-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout);
  const waves: string[][] = plan.spec.waves.map((wave: any) => wave.slices.map((slice: any) => slice.name));
  const waveOf = (name: string) => waves.findIndex((slices) => slices.includes(name));
  assert.ok(waves[0]!.includes('loadgenerator'));
  assert.ok(waveOf('frontend') < waveOf('checkoutservice'));
  assert.ok(waveOf('recommendationservice') < waveOf('productcatalogservice'));
  assert.equal(waveOf('redis-cart'), waves.length - 1);
  assert.deepEqual(plan.spec.defaults.traffic.steps, [1, 10, 50, 100]);
  // After the first wave only loadgenerator runs on the target and calls frontend back on the source.
  assert.deepEqual(plan.spec.waves[0].crossClusterCalls, [
    { from: 'loadgenerator', to: 'frontend', direction: 'target→source', via: ['Deployment/default/loadgenerator → Service/default/frontend'] },
  ]);
});

test('ferry plan is byte-identical across runs, and its YAML validates', () => {
  // Without --traffic the edge slice names a bare provider kind, which validate refuses (plan-runs.test.ts).
  const first = ferry(['plan', '--manifests', BOUTIQUE, '--to', 'lab-target', '--traffic', 'none']);
  const second = ferry(['plan', '--manifests', BOUTIQUE, '--to', 'lab-target', '--traffic', 'none']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, second.stdout);
  const file = join(tmp, 'plan.yaml');
  writeFileSync(file, first.stdout);
  const validated = ferry(['validate', file, '-o', 'json']);
  assert.equal(validated.code, 0, validated.stdout + validated.stderr);
  assert.equal(JSON.parse(validated.stdout).valid, true);
});

test('ferry graph shows frontend → cartservice → redis-cart in mermaid, dot and json', () => {
  const json = JSON.parse(ferry(['graph', '--manifests', BOUTIQUE, '-o', 'json']).stdout);
  const edges = json.unitEdges.map((edge: any) => `${edge.from}->${edge.to}`);
  assert.ok(edges.includes('frontend->cartservice'));
  assert.ok(edges.includes('cartservice->redis-cart'));
  const mermaid = ferry(['graph', '--manifests', BOUTIQUE]).stdout;
  assert.match(mermaid, /^flowchart LR/);
  const id = (name: string) => new RegExp(`(n\\d+)\\["${name}"\\]`).exec(mermaid)![1];
  assert.match(mermaid, new RegExp(`${id('frontend')} --> ${id('cartservice')}\\n`));
  const dot = ferry(['graph', '--manifests', BOUTIQUE, '-o', 'dot']).stdout;
  assert.match(dot, /"cartservice" -> "redis-cart";/);
});

test('ferry inventory prints a table, JSON and YAML of the same report', () => {
  const table = ferry(['inventory', '--manifests', BOUTIQUE]);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /35 objects in 1 namespaces/);
  assert.match(table.stdout, /Service\/frontend-external\s+LoadBalancer/);
  const json = JSON.parse(ferry(['inventory', '--manifests', BOUTIQUE, '-o', 'json']).stdout);
  const yaml = parse(ferry(['inventory', '--manifests', BOUTIQUE, '-o', 'yaml']).stdout);
  assert.deepEqual(yaml, json);
  assert.deepEqual(json.namespaces[0].objects, { Deployment: 12, Service: 12, ServiceAccount: 11 });
});

test('broken YAML: one line naming file:line, no stack', () => {
  const file = join(tmp, 'broken.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n');
  assertOneLineError(ferry(['inventory', '--manifests', file]), new RegExp(`${file}:[45]:\\d+: invalid YAML`));
});

test('a plan with a wrong field type: file:line:column and the field path', () => {
  const plan = ferry(['plan', '--manifests', BOUTIQUE]).stdout.replace('steps:\n        - 1\n        - 10\n        - 50\n        - 100', 'steps: "fast"');
  assert.match(plan, /steps: "fast"/);
  const file = join(tmp, 'wrong-type.yaml');
  writeFileSync(file, plan);
  const line = plan.split('\n').findIndex((l) => l.includes('steps: "fast"')) + 1;
  assertOneLineError(ferry(['validate', file]), new RegExp(`${file}:${line}:\\d+: spec\\.defaults\\.traffic\\.steps: expected array, got string "fast"`));
});

test('an unknown kind: file:line and the field, with the kinds that exist', () => {
  const file = join(tmp, 'unknown-kind.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: b\n');
  assertOneLineError(ferry(['plan', '--manifests', file]), new RegExp(`${file}:6: Deploymnet b: kind: unknown kind "Deploymnet" in apps/v1 \\(fix: use one of apps/v1's kinds: .*Deployment`));
});

test('meaning errors exit 1 and list every problem with its position', () => {
  const plan = ferry(['plan', '--manifests', BOUTIQUE]).stdout.replace('        - 100\n', '        - 90\n').replace('          dependsOn:\n            - frontend', '          dependsOn:\n            - frontend\n            - ghost');
  const file = join(tmp, 'meaning.yaml');
  writeFileSync(file, plan);
  const result = ferry(['validate', file]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /meaning\.yaml:\d+:\d+: error: spec\.defaults\.traffic\.steps: traffic weights end at 90, not 100/);
  assert.match(result.stdout, /error: spec\.waves\[0\]\.slices\[0\]\.dependsOn\[1\]: slice "loadgenerator" depends on unknown slice "ghost"/);
});

test('ferry schema prints a JSON Schema for MigrationPlan; usage errors exit 2', () => {
  const schema = JSON.parse(ferry(['schema']).stdout);
  assert.equal(schema.title, 'Ferry MigrationPlan');
  assert.deepEqual(schema.properties.apiVersion, { type: 'string', const: 'ferry.dev/v1alpha1' });
  const bad = ferry(['plan', '--manifests', BOUTIQUE, '-o', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown output format "xml"/);
  assertOneLineError(ferry(['plan', '--manifests', join(tmp, 'missing.yaml')]), /missing\.yaml: no such file or directory/);
});

test('installed as kubectl-ferry on PATH, kubectl finds the plugin and runs it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-plugin-'));
  symlinkSync(join(REPO, 'bin', 'ferry.js'), join(dir, 'kubectl-ferry'));
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, NO_COLOR: '1' };
  const listed = spawnSync('kubectl', ['plugin', 'list'], { env, encoding: 'utf8' });
  assert.match(listed.stdout, new RegExp(`${dir}/kubectl-ferry`));
  const version = spawnSync('kubectl', ['ferry', 'version', '-o', 'json'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(JSON.parse(version.stdout).version, JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
});
