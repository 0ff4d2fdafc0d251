import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { ferryAsync, type CliResult } from '../../helpers/cli.js';
import { printError } from '../../../src/cli/main.js';
import { toFerryError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-cli-'));
const write = (name: string, content: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const goodManifest = write('good.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx}]\n');
const notUtf8 = write('latin1.yaml', Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf'), Buffer.from([0xe9]), Buffer.from('}\n')]));
const specFive = write('spec-five.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: 5\n');

/** One line on stderr, no stack, a non-zero exit: what every refused input must give. */
function assertOneLineError(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at |TypeError|RangeError|Invalid string length/);
}

async function planFor(manifests: string, transforms = ''): Promise<string> {
  const planned = await ferryAsync(['plan', '--manifests', manifests, '--traffic', 'none']);
  assert.equal(planned.code, 0, planned.stderr);
  return transforms ? planned.stdout.replace(/ {2}transforms:\n( {4}- name: strip-server-fields\n)/, `  transforms:\n$1${transforms}`) : planned.stdout;
}

function aliasBomb(): string {
  const levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) levels.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
  return `    - name: json-patch\n      with:\n${levels.map((line) => `        ${line}`).join('\n')}\n`;
}

test('manifests that are not UTF-8 or are malformed: one line naming the file, line and object', async () => {
  assertOneLineError(await ferryAsync(['inventory', '--manifests', notUtf8]), new RegExp(`${notUtf8}:3:21: not valid UTF-8: byte 0xE9`));
  assertOneLineError(await ferryAsync(['plan', '--manifests', specFive]), new RegExp(`${specFive}:4:1: Deployment shop/web: spec: expected a mapping, got number 5`));
  assertOneLineError(await ferryAsync(['graph', '--manifests', specFive]), /Deployment shop\/web: spec: expected a mapping/);
});

test('an alias bomb or bad bytes in a plan: validate and run refuse it in one line, and run leaves no run directory', async () => {
  const bomb = write('bomb.plan.yaml', await planFor(goodManifest, aliasBomb()));
  const text = await planFor(goodManifest);
  const at = text.indexOf('name: migration') + 'name: mig'.length;
  const latin1 = write('latin1.plan.yaml', Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xe9]), Buffer.from(text.slice(at))]));
  const oversized = write('oversized.plan.yaml', await planFor(goodManifest, `    - name: map-image-registry\n      with:\n        big: ${'x'.repeat(70_000)}\n`));
  const cases: Array<[string, RegExp]> = [
    [bomb, /YAML aliases refused: aliases expand the document to [\d,]+ values/],
    [latin1, /not valid UTF-8: byte 0xE9/],
    [oversized, /spec\.transforms\[1\]\.with: the transform's settings are larger than 64 KiB/],
  ];
  for (const [plan, pattern] of cases) {
    const started = performance.now();
    assertOneLineError(await ferryAsync(['validate', plan]), pattern);
    const stateDir = join(dir, `state-${readdirSync(dir).length}`);
    assertOneLineError(await ferryAsync(['run', plan, '--state-dir', stateDir]), pattern);
    assert.ok(!existsSync(join(stateDir, 'runs')) || readdirSync(join(stateDir, 'runs')).length === 0, `no run directory for ${plan}`);
    assert.ok(performance.now() - started < 20_000, 'refused promptly');
  }
});

test('an error that is not a FerryError is named a bug in Ferry with how to report it, and its stack only with --debug', () => {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    // CI=true turns picocolors on even without a TTY; the words are what is asserted.
    written.push(stripVTControlCharacters(String(chunk)));
    return true;
  }) as typeof process.stderr.write;
  try {
    printError(new TypeError("Cannot use 'in' operator to search for 'replicas' in 5"), false);
    printError(new TypeError('boom'), true);
    printError(toFerryError(new RangeError('Invalid string length')), false);
  } finally {
    process.stderr.write = original;
  }
  assert.equal(written[0]!.split('\n').filter(Boolean).length, 1);
  assert.match(written[0]!, /internal error, a bug in Ferry rather than in your input: Cannot use 'in' operator/);
  assert.match(written[0]!, /report it .* --debug/);
  assert.doesNotMatch(written[0]!, /\n\s+at /);
  assert.match(written[1]!, /internal error, a bug in Ferry/);
  assert.match(written[2]!, /TypeError: boom\n\s+at /);
  assert.match(written[3]!, /^error: internal error, a bug in Ferry rather than in your input: Invalid string length \(fix: please report it/);
});
