import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { buildUnitGraph } from '../../../src/graph/units.js';
import { renderableObjects, renderableUnits, toDot, toMermaid } from '../../../src/graph/render.js';
import { idOf } from '../../../src/graph/model.js';
import { isWorkload } from '../../../src/graph/pod-spec.js';
import { toJson } from '../../../src/util/output.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { ferry } from '../../helpers/cli.js';

const NS = 'shop';

/** Passwords and tokens as people make them: any printable character but whitespace. */
const plain = fc.string({ unit: fc.constantFrom(...'abcdefghijkXYZ0123456789!#$%&*+,-./:;<=>?@[]^_{|}~'.split('')), minLength: 12, maxLength: 24 });
/** Pieces that look like addresses, inside a credential: any of them read would name "evil". */
const TRICKS = [',http://evil:80', ';x=http://evil:80', '@evil:80/', 'evil.shop:80', ',evil:80', '://evil:1', ' evil:80'.trim(), ',mongodb://evil,evil2/', '/evil@evil:5'];
const credential = fc.oneof(plain, fc.tuple(plain, fc.constantFrom(...TRICKS), plain).map(([a, trick, b]) => `${a}${trick}${b}`));

interface Credentials {
  urlPassword: string; secretUrlPassword: string; secretPassword: string; secretToken: string; secretOther: string;
  sharedPassword: string; dsnPassword: string; argPassword: string; literalPassword: string; jvmPassword: string; expandedPassword: string;
}

const credentials = fc.record<Credentials>({
  urlPassword: credential, secretUrlPassword: credential, secretPassword: credential, secretToken: credential, secretOther: credential,
  sharedPassword: credential, dsnPassword: credential, argPassword: credential, literalPassword: credential, jvmPassword: credential, expandedPassword: credential,
});

const b64 = (text: string) => Buffer.from(text).toString('base64');
const enc = encodeURIComponent;

/** An app whose configuration holds each credential where real manifests put them. */
function app(c: Credentials): KubeObject[] {
  const svc = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...extra } });
  const deploy = (name: string, containers: unknown[]): KubeObject => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers } } },
  });
  return [
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: NS }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'postgres' }] } } } },
    svc('db', { clusterIP: 'None' }), svc('db-primary', { selector: { app: 'db' } }),
    ...['cache', 'queue', 'api'].flatMap((name) => [deploy(name, [{ name, image: name }]), svc(name)]),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'redis', namespace: NS }, data: { url: b64(`redis://:${enc(c.secretUrlPassword)}@cache:6379/0`) } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: NS }, data: { DB_PASSWORD: b64(c.secretPassword), API_TOKEN: b64(c.secretToken), SALT: b64(c.secretOther), DB_HOST: b64('db-primary') }, stringData: { PG_PASS: c.expandedPassword } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'common', namespace: NS }, data: { AMQP_URL: `amqp://guest:${enc(c.sharedPassword)}@queue:5672/`, DSN: `host=api port=80 user=app password=${c.dsnPassword}` } },
    deploy('worker', [{ name: 'worker', image: 'worker', envFrom: [{ configMapRef: { name: 'common' } }] }]),
    deploy('app', [{
      name: 'app',
      image: 'app',
      envFrom: [{ configMapRef: { name: 'common' } }, { secretRef: { name: 'creds' } }],
      env: [
        { name: 'DATABASE_URL', value: `postgresql://app:${enc(c.urlPassword)}@db-0.db.shop.svc.cluster.local:5432/orders` },
        { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis', key: 'url' } } },
        { name: 'MYSQL_PASSWORD', value: c.literalPassword },
        { name: 'JAVA_OPTS', value: `-Dspring.datasource.password=${c.jvmPassword} -Dspring.datasource.url=jdbc:postgresql://db-primary:5432/x` },
        { name: 'PG_URL', value: 'postgresql://app:$(PG_PASS)@db-primary:5432/x' },
      ],
      args: ['--password', c.argPassword, '--api-url=http://api:80'],
    }]),
  ];
}

/** Everything `ferry graph` prints, at every level and in every format. */
function everyOutput(objects: KubeObject[]): string {
  const graph = buildDependencyGraph(objects);
  const units = buildUnitGraph(graph, objects.filter(isWorkload).map(idOf));
  return [
    toJson({ units: units.units, unitEdges: units.edges, nodes: graph.nodes, edges: graph.edges, dangling: graph.dangling }),
    toMermaid(renderableUnits(units)), toMermaid(renderableObjects(graph)), toDot(renderableUnits(units)), toDot(renderableObjects(graph)),
  ].join('\n');
}

function assertNoCredential(output: string, c: Credentials) {
  assert.ok(!output.includes('evil'), 'a piece of a credential was read as an address');
  for (const [where, secret] of Object.entries(c)) {
    for (const form of new Set([secret, enc(secret), secret.toLowerCase()])) assert.ok(!output.includes(form), `${where} ${JSON.stringify(secret)} appears in the output`);
  }
}

test('property: no credential from a URL, a Secret, a DSN, an argument or an expansion appears in any edge, dangling reference or output; the addresses are still found', () => {
  fc.assert(
    fc.property(credentials, (c) => {
      const objects = app(c);
      const output = everyOutput(objects);
      assertNoCredential(output, c);
      const calls = new Set(buildDependencyGraph(objects).edges.filter((e) => e.from === `Deployment/${NS}/app` && e.runtime).map((e) => e.to.split('/')[2]));
      assert.deepEqual([...calls].sort(), ['api', 'cache', 'db', 'db-primary', 'queue']);
    }),
    { numRuns: 300 },
  );
});

test('ferry graph (json, mermaid, dot, objects) prints no credential', () => {
  const [c] = fc.sample(credentials, { numRuns: 1, seed: 17 });
  const dir = mkdtempSync(join(tmpdir(), 'ferry-graph-credentials-'));
  try {
    const file = join(dir, 'app.yaml');
    writeFileSync(file, app(c!).map((object) => stringify(object)).join('---\n'));
    let output = '';
    for (const args of [['-o', 'json'], [], ['--level', 'objects'], ['-o', 'dot', '--level', 'objects']]) {
      const result = ferry(['graph', '--manifests', file, ...args]);
      assert.equal(result.code, 0, result.stderr);
      output += result.stdout + result.stderr;
    }
    assertNoCredential(output, c!);
    const json = JSON.parse(ferry(['graph', '--manifests', file, '-o', 'json']).stdout);
    const redis = json.edges.find((edge: { from: string; to: string }) => edge.from === `Deployment/${NS}/app` && edge.to === `Service/${NS}/cache`);
    assert.deepEqual(redis.evidence, [{ object: `Secret/${NS}/redis`, field: `Secret ${NS}/redis data.url via secretKeyRef (spec.template.spec.containers[app].env[REDIS_URL])`, text: 'redis://cache:6379' }]);
    assert.ok(json.unitEdges.some((edge: { from: string; to: string; provenance: string }) => edge.from === 'worker' && edge.to === 'queue' && edge.provenance === 'static (shared config)'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
