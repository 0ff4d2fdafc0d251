import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRouterConfig } from '../../../src/traffic/proxy/config.js';
import { FerryError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-router-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

test('router.yaml with defaults loads', () => {
  const config = loadRouterConfig(write('ok.yaml', `
backends:
  old: { url: http://127.0.0.1:8081 }
  new: { url: http://127.0.0.1:8082 }
routes:
  - name: shop
    match: { host: shop.example.com }
    source: old
    target: new
    weight: 10
`));
  assert.equal(config.routes[0]!.stickiness.mode, 'cookie');
  assert.equal(config.routes[0]!.mirror.allowNonIdempotent, false);
  assert.equal(config.admin.tokenEnv, 'FERRY_ROUTER_TOKEN');
});

test('an unknown backend is reported with file, line and field', () => {
  const file = write('bad.yaml', `backends:
  old: { url: http://127.0.0.1:8081 }
routes:
  - name: shop
    source: old
    target: nwe
`);
  assert.throws(() => loadRouterConfig(file), (error: unknown) => {
    assert.ok(error instanceof FerryError);
    assert.match(error.message, /unknown backend "nwe"/);
    assert.equal(error.location.field, 'routes[0].target');
    assert.equal(error.location.line, 6);
    return true;
  });
});

test('a weight above 100 is refused', () => {
  const file = write('weight.yaml', 'backends: { a: { url: "http://127.0.0.1:1" } }\nroutes: [{ name: r, source: a, target: a, weight: 150 }]\n');
  assert.throws(() => loadRouterConfig(file), /100/);
});

test('a TLS listener needs its certificate as a file pair or a Secret, and says which field is wrong', () => {
  const base = `backends:
  old: { url: http://127.0.0.1:8081 }
routes:
  - { name: shop, source: old, target: old }
`;
  const ok = loadRouterConfig(write('tls-ok.yaml', `${base}tls: { listen: 127.0.0.1:0, secret: shop/shop-tls, context: source }\n`));
  assert.deepEqual([ok.tls?.secret, ok.tls?.context], ['shop/shop-tls', 'source']);
  const cases: Array<[string, RegExp, string]> = [
    ['tls: { certFile: /etc/tls/tls.crt }', /certFile and keyFile go together/, 'tls.keyFile'],
    ['tls: { certFile: a, keyFile: b, secret: shop/tls }', /files or as a Secret, not both/, 'tls.secret'],
    ['tls: { context: source }', /set tls.secret/, 'tls.context'],
    ['tls: { secret: just-a-name }', /NAMESPACE\/NAME/, 'tls.secret'],
  ];
  for (const [line, message, field] of cases) {
    assert.throws(() => loadRouterConfig(write('tls-bad.yaml', `${base}${line}\n`)), (error: FerryError) => {
      assert.match(error.message, message);
      assert.equal(error.location.field, field);
      return true;
    });
  }
});
