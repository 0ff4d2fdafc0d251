import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as jsYaml from 'js-yaml';
import { inventoryFromManifests, type Inventory } from '../../../src/inventory/load.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { loadPlan, parsePlan } from '../../../src/plan/load.js';
import { validatePlanMeaning } from '../../../src/plan/validate.js';
import { runnableProblems } from '../../../src/plan/runnable.js';
import type { MigrationPlan } from '../../../src/plan/schema.js';
import { desiredObjects } from '../../../src/apply/desired.js';
import { transformProblems } from '../../../src/apply/transforms/index.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { FerryError } from '../../../src/util/errors.js';
import { toYamlText } from '../../../src/util/output.js';
import { BOUTIQUE, REPO } from '../../helpers/cli.js';

/**
 * Hostile and broken input through every library entry point a plan file or a manifest
 * reaches: each call returns, or throws a FerryError (what, where, fix), within 5 s. Anything
 * else (a TypeError, V8's "Invalid string length", a hang) is a bug the user would see.
 * Deterministic: a fixed seed; fast-check's failure report names it and the shrunk input.
 */
const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 20261130);
const LIMIT_MS = 5_000;
const dir = mkdtempSync(join(tmpdir(), 'ferry-fuzz-'));

const FIXTURES = ['kubectl-get-list.yaml', 'helm-rendered.yaml', 'cluster-returned.yaml', 'apply/kinds.yaml', 'preflight/orders.yaml'].map((name) => `${REPO}/test/fixtures/${name}`);
const MANIFEST_TEXTS = [...FIXTURES, BOUTIQUE].map((file) => readFileSync(file, 'utf8'));
const boutique = inventoryFromManifests({ manifests: BOUTIQUE });
const boutiquePlan = generatePlan(boutique.objects, {
  source: { manifests: BOUTIQUE },
  target: { context: 'target' },
  traffic: { kind: 'router', router: { adminUrl: 'http://127.0.0.1:9901' } },
  metrics: { url: 'http://127.0.0.1:9090' },
});
// A plan that also carries every free-form field, so mutations reach them.
const richPlan = structuredClone(boutiquePlan) as MigrationPlan;
richPlan.spec.transforms.push(
  { name: 'set-replicas', with: { replicas: 2, select: { kind: 'Deployment', labels: { app: 'frontend' } } } },
  { name: 'json-patch', with: { select: { kind: 'Deployment' }, patch: [{ op: 'add', path: '/metadata/labels/moved', value: 'yes' }] } },
  { name: 'map-image-registry', with: { 'gcr.io': 'registry.example.com' } },
);
richPlan.spec.waves[0]!.slices[0]!.transforms = [{ name: 'map-namespace', with: { default: 'shop' } }];
const PLAN_TEXT = toYamlText(richPlan);

/** What a user would see: a result, or a FerryError. Everything else fails the property. */
function expectResultOrFerryError(what: string, call: () => unknown): unknown {
  const started = performance.now();
  try {
    return call();
  } catch (error) {
    if (!(error instanceof FerryError)) {
      assert.fail(`${what} threw ${(error as Error)?.constructor?.name ?? typeof error} instead of a FerryError: ${String((error as Error)?.message ?? error).slice(0, 300)}`);
    }
    assert.ok(error.message.length > 0 && !/\n\s+at /.test(error.oneLine()), `${what}: a FerryError with a message and no stack`);
    return undefined;
  } finally {
    const elapsed = performance.now() - started;
    assert.ok(elapsed < LIMIT_MS, `${what} took ${Math.round(elapsed)} ms (limit ${LIMIT_MS} ms)`);
  }
}

/** Every entry point a plan reaches once loaded, and the copy a run keeps of it (plan.yaml in the run directory). */
function exercisePlan(plan: MigrationPlan, inventory: Inventory): void {
  expectResultOrFerryError('the run\'s copy of the plan', () => toYamlText(plan));
  expectResultOrFerryError('validatePlanMeaning', () => validatePlanMeaning(plan));
  expectResultOrFerryError('runnableProblems', () => runnableProblems(plan, { env: { FERRY_ROUTER_TOKEN: 't' }, unsetEnv: 'warning' }));
  expectResultOrFerryError('transformProblems', () => transformProblems(plan));
  expectResultOrFerryError('desiredObjects', () => desiredObjects(plan, inventory, { prerequisites: true }));
}

/** Bytes that are not UTF-8 never become a result: Node's decoding would have put U+FFFD in their place. */
function refusedIfNotUtf8(text: string | Uint8Array, result: unknown, what: string): void {
  if (typeof text === 'string') return;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    assert.equal(result, undefined, `${what} accepted bytes that are not UTF-8`);
  }
}

/** Every entry point manifests reach: inventory, graph, plan, desired objects. */
function exerciseManifests(text: string | Uint8Array): void {
  const file = join(dir, 'manifests.yaml');
  writeFileSync(file, text);
  const inventory = expectResultOrFerryError('inventoryFromManifests', () => inventoryFromManifests({ manifests: file })) as Inventory | undefined;
  refusedIfNotUtf8(text, inventory, 'inventoryFromManifests');
  if (!inventory) return;
  exerciseObjects(inventory.objects, inventory);
}

function exerciseObjects(objects: KubeObject[], inventory: Inventory): void {
  expectResultOrFerryError('buildDependencyGraph', () => buildDependencyGraph(objects));
  const plan = expectResultOrFerryError('generatePlan', () =>
    generatePlan(objects, { source: { manifests: 'm.yaml' }, target: { context: 'target' }, traffic: { kind: 'router', router: { adminUrl: 'http://127.0.0.1:9901' } } }),
  ) as MigrationPlan | undefined;
  if (plan) exercisePlan(plan, { ...inventory, objects });
}

function exercisePlanText(text: string | Uint8Array): void {
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text);
  const loaded = expectResultOrFerryError('loadPlan', () => loadPlan(file)) as ReturnType<typeof loadPlan> | undefined;
  refusedIfNotUtf8(text, loaded, 'loadPlan');
  if (typeof text === 'string') expectResultOrFerryError('parsePlan', () => parsePlan(text, file));
  if (loaded) exercisePlan(loaded.plan, boutique);
}

// ---- arbitraries -------------------------------------------------------------------------

/** Values of every type, including the awkward ones: deep, huge, empty, special keys. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', '*', '-1', 'env:', 'secret:', '0x1F', '1e400', 'true', '~', 'null', '__proto__', 'a/b', '../..', '\u0000', '\u202e'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('a', 'name', 'kind', 'spec', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constant('x'.repeat(70_000)),
  fc.constant(nested(90)),
);

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

type Path = Array<string | number>;

/** Every path into a value (objects, lists and scalars), in a stable order. */
function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) pathsOf(item, [...prefix, key], out);
  return out;
}

type Mutation = { op: 'set' | 'delete' | 'add-key' | 'share'; pick: number; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('set', 'set', 'set', 'delete', 'add-key', 'share'),
  pick: fc.nat(),
  value: wrongValue,
});

/** Applies mutations to a copy; `share` makes two places hold the same object, which YAML writes as an anchor and an alias. */
function mutate(input: unknown, mutations: readonly Mutation[]): unknown {
  const root = { root: structuredClone(input) } as Record<string, unknown>;
  for (const { op, pick, value } of mutations) {
    const paths = pathsOf(root.root, ['root']);
    const path = paths[pick % paths.length]!;
    const parent = path.slice(0, -1).reduce<any>((node, key) => node?.[key], root);
    const key = path[path.length - 1]!;
    if (typeof parent !== 'object' || parent === null) continue;
    if (op === 'set') parent[key] = structuredClone(value);
    else if (op === 'delete') {
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete parent[key];
    } else if (op === 'add-key') {
      const target = parent[key];
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) target[`unknown${pick % 7}`] = structuredClone(value);
    } else {
      const other = paths[(pick * 7 + 3) % paths.length]!;
      const shared = other.reduce<any>((node, k) => node?.[k], root);
      if (typeof shared === 'object' && shared !== null && !other.slice(0, path.length).every((k, i) => k === path[i])) parent[key] = shared;
    }
  }
  return root.root;
}

/** YAML as a user might write it: anchors for shared values. */
function dump(value: unknown): string {
  return jsYaml.dump(value, { noRefs: false, lineWidth: -1, skipInvalid: true });
}

/** Byte-level damage to a text: flipped, inserted and cut bytes (including invalid UTF-8). */
const byteEdits = fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'cut'), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 });
function damage(text: string, edits: ReadonlyArray<{ at: number; kind: string; byte: number }>): Uint8Array {
  let bytes = Buffer.from(text, 'utf8');
  for (const { at, kind, byte } of edits) {
    const i = at % Math.max(1, bytes.length);
    if (kind === 'flip') bytes[i] = byte;
    else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    else bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(Math.min(bytes.length, i + 1 + (byte % 40)))]);
  }
  return bytes;
}

/** Hostile YAML written by hand: alias bombs, recursion, deep nesting, tags, merge keys, huge keys. */
const hostileYaml = fc.oneof(
  fc.integer({ min: 2, max: 12 }).map((levels) => {
    const lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
    return lines.join('\n');
  }),
  fc.constant('a: &a [*a]'),
  fc.constant('a: &a {b: *a}'),
  fc.constant('x: *missing'),
  fc.integer({ min: 50, max: 3000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 50, max: 400 }).map((depth) => Array.from({ length: depth }, (_, i) => `${'  '.repeat(i)}a:`).join('\n') + ' 1'),
  fc.constantFrom('!!binary aGVsbG8=', '!custom {a: 1}', '<<: {a: 1}\nb: 2', '? [a, b]\n: c', '__proto__: {polluted: true}', '--- |\n  text\n...\n---\n', '\uFEFFa: 1', 'a: 1\na: 2', '%YAML 1.1\n---\na: 1'),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(...'{}[]:-,&*!|>\'"%@`#? \n\tab0'.split('')), maxLength: 120 }),
);

/** Manifests with wrong types where Ferry reads, as a hostile or careless user writes them. */
const manifestValues = fc.constantFrom(...MANIFEST_TEXTS).map((text) => jsYaml.loadAll(text, undefined, { schema: jsYaml.CORE_SCHEMA }).filter((doc) => doc != null));

// ---- properties --------------------------------------------------------------------------

const runs = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

function check(property: fc.IProperty<any>, numRuns: number): void {
  const details = fc.check(property, runs(numRuns));
  if (!details.failed) return;
  const cause = details.errorInstance as Error | undefined;
  assert.fail([
    `fuzz failure with seed ${SEED} (rerun: FERRY_FUZZ_SEED=${SEED}), after ${details.numRuns} runs, path ${details.counterexamplePath}`,
    `error: ${cause?.message ?? String(details.errorInstance)}`,
    `input: ${fc.stringify(details.counterexample).slice(0, 2000)}`,
  ].join('\n'));
}

test('plan files with wrong types, unknown fields and shared values anywhere: a plan or a FerryError', () => {
  check(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => exercisePlanText(dump(mutate(richPlan, mutations)))), 250);
});

test('plan files with damaged bytes, hostile YAML or random bytes: a FerryError', () => {
  check(fc.property(byteEdits, (edits) => exercisePlanText(damage(PLAN_TEXT, edits))), 150);
  check(fc.property(hostileYaml, (text) => exercisePlanText(text)), 150);
  check(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => exercisePlanText(bytes)), 100);
});

test('manifests with wrong types, missing fields and shared values anywhere: an inventory, graph and plan, or a FerryError', () => {
  check(fc.property(manifestValues, fc.array(mutation, { minLength: 1, maxLength: 5 }), (documents, mutations) => {
    const mutated = mutate(documents, mutations);
    exerciseManifests(Array.isArray(mutated) ? mutated.map(dump).join('---\n') : dump(mutated));
  }), 200);
});

test('manifests with damaged bytes, hostile YAML or random bytes: a FerryError', () => {
  check(fc.property(fc.constantFrom(...MANIFEST_TEXTS), byteEdits, (text, edits) => exerciseManifests(damage(text, edits))), 150);
  check(fc.property(hostileYaml, (text) => exerciseManifests(text)), 150);
  check(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => exerciseManifests(bytes)), 100);
});

test('objects handed to the graph, the planner and desiredObjects directly (no inventory): a result or a FerryError', () => {
  check(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
    const objects = mutate(boutique.objects, mutations) as KubeObject[];
    if (!Array.isArray(objects)) return;
    exerciseObjects(objects, boutique);
  }), 250);
});
