/**
 * Trust carried, not re-issued (issue 22 part 4), on the lab: a slice with a SealedSecret the
 * source controller unsealed, a cert-manager Certificate with its Secret and ServiceAccounts
 * bound to cloud identities. `ferry apply` writes a SealedSecret that decrypts with the target
 * controller's key (only its public certificate is read), the Certificate arrives with its
 * Secret, preflight flags the identities and map-annotation remaps a role ARN. No secret value
 * appears in any output or error of these paths (fast-check).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '../../../src/kube/client-node.js';
import { ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { TRUST_CRDS, makeSealingKey, recordingClient, unsealValue, type SealingKey } from '../../helpers/trust.js';
import { defaultSliceDefaults } from '../../../src/plan/defaults.js';
import { clusterTextReader, resealSealedSecrets, sealValue, sealingCertificateFromPem, targetSealingCertificate } from '../../../src/trust/sealed-secrets.js';
import { checkTrust } from '../../../src/trust/index.js';
import { migrationPlanSchema } from '../../../src/plan/schema.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { toFerryError } from '../../../src/util/errors.js';
import { restoreSource } from '../../../src/run/source-lifecycle.js';

let lab: TestLab;
let sourceKey: SealingKey;
let targetKey: SealingKey;
let planFile: string;
const VALUES = { password: 'hunter2-correct-horse', url: 'postgres://shop:hunter2-correct-horse@db.shop:5432/shop' };
const SHARED_VALUE = 'api-token-0f9e8d7c6b5a';
const OLD_ARN = 'arn:aws:iam::111111111111:role/shop-api-source';
const NEW_ARN = 'arn:aws:iam::222222222222:role/shop-api-target';
const b64 = (text: string) => Buffer.from(text).toString('base64');

before(async () => {
  lab = await startTestLab(['source', 'target']);
  sourceKey = makeSealingKey({ bits: 4096, cn: 'source-controller' });
  targetKey = makeSealingKey({ bits: 4096, cn: 'target-controller' });
  const tls = makeSealingKey({ cn: 'shop.example.com', days: 90 });
  const keySecret = (name: string, key: SealingKey) => ({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace: 'kube-system', labels: { 'sealedsecrets.bitnami.com/sealed-secrets-key': 'active' } }, data: { 'tls.crt': b64(key.certPem), 'tls.key': b64(key.keyPem) } });
  for (const cluster of ['source', 'target']) {
    await kubectlApply(TRUST_CRDS, cluster);
    await kubectlApply(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } }), cluster).catch(() => undefined);
  }
  for (const cluster of lab.clusters) await cluster.settled();
  // Each cluster's controller key: the source's must never be read, the target's only for tls.crt.
  await kubectlApply(JSON.stringify(keySecret('sealed-secrets-keysrc01', sourceKey)), 'source');
  await kubectlApply(JSON.stringify(keySecret('sealed-secrets-keytgt01', targetKey)), 'target');

  const sourceCert = sealingCertificateFromPem(sourceKey.certPem, 'source');
  const sealedForSource = (value: string, label: string) => sealValue(sourceCert.publicKey, Buffer.from(value), Buffer.from(label));
  await kubectlApply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 'db', namespace: 'shop' }, spec: { encryptedData: Object.fromEntries(Object.entries(VALUES).map(([k, v]) => [k, sealedForSource(v, 'shop/db')])), template: { metadata: { labels: { app: 'shop' } }, type: 'Opaque' } } },
    { apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 'shared', namespace: 'shop', annotations: { 'sealedsecrets.bitnami.com/namespace-wide': 'true' } }, spec: { encryptedData: { token: sealedForSource(SHARED_VALUE, 'shop') } } },
    { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'web-tls', namespace: 'shop', annotations: { 'cert-manager.io/certificate-name': 'web', 'cert-manager.io/issuer-name': 'letsencrypt', 'cert-manager.io/issuer-kind': 'ClusterIssuer' } }, data: { 'tls.crt': b64(tls.certPem), 'tls.key': b64(tls.keyPem) } },
    { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'web', namespace: 'shop' }, spec: { secretName: 'web-tls', dnsNames: ['shop.example.com'], issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'shop', annotations: { 'eks.amazonaws.com/role-arn': OLD_ARN } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'worker', namespace: 'shop', annotations: { 'iam.gke.io/gcp-service-account': 'worker@shop-prod.iam.gserviceaccount.com' } } },
  ].map((object) => JSON.stringify(object)).join('\n'), 'source');
  // What the source controller made from each SealedSecret: its Secret, owned by it.
  for (const [name, data] of [['db', VALUES], ['shared', { token: SHARED_VALUE }]] as const) await createUnsealed(name, data);

  planFile = join(lab.dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(planFor(['SealedSecret:db', 'SealedSecret:shared', 'Certificate:web', 'Secret:web-tls', 'ServiceAccount:api', 'ServiceAccount:worker'])));
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile], { env: { FERRY_STATE_DIR: join(lab.dir, 'state') } });

async function kubectlApply(text: string, context: string): Promise<void> {
  const file = join(lab.dir, `apply-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, text);
  const result = await lab.kubectl(['apply', '--server-side', '-f', file], context);
  assert.equal(result.code, 0, result.stderr);
}

async function getJson(args: string[], context: string): Promise<any> {
  const result = await lab.kubectl(['get', ...args, '-o', 'json'], context);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function createUnsealed(name: string, data: Record<string, string>): Promise<void> {
  const sealed = await getJson(['sealedsecret', name, '-n', 'shop'], 'source');
  await kubectlApply(JSON.stringify({
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: 'shop', ownerReferences: [{ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', name, uid: sealed.metadata.uid, controller: true }] },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  }), 'source');
}

function planFor(resources: string[]) {
  const apiVersions: Record<string, string> = { SealedSecret: 'bitnami.com/v1alpha1', Certificate: 'cert-manager.io/v1', Secret: 'v1', ServiceAccount: 'v1' };
  return {
    apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'trust' },
    spec: {
      source: { context: 'source' }, target: { context: 'target' },
      transforms: [{ name: 'strip-server-fields' }, { name: 'map-annotation', with: { annotation: 'eks.amazonaws.com/role-arn', values: { [OLD_ARN]: NEW_ARN } } }],
      defaults: defaultSliceDefaults({ kind: 'none' }),
      prerequisites: [{ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }],
      waves: [{ name: 'wave-1', slices: [{ name: 'shop', namespace: 'shop', workloads: [], resources: resources.map((entry) => { const [kind, name] = entry.split(':') as [string, string]; return { apiVersion: apiVersions[kind]!, kind, namespace: 'shop', name }; }), traffic: { provider: 'none' } }] }],
    },
  };
}

test('ferry apply re-seals each SealedSecret for the target controller: it decrypts with the target key to the source data', async () => {
  const applied = await ferry(['apply', planFile, '--slice', 'shop', '-o', 'json']);
  assert.equal(applied.code, 0, applied.stderr);
  const report = JSON.parse(applied.stdout);
  const order = report.objects.map((o: any) => o.object);
  assert.ok(order.indexOf('Secret shop/web-tls') < order.indexOf('Certificate shop/web'), `the Secret is written before its Certificate: ${order.join(', ')}`);
  assert.ok(!order.includes('Secret shop/db'), 'the unsealed Secret is not applied: the target controller makes it');

  const db = await getJson(['sealedsecret', 'db', '-n', 'shop'], 'target');
  assert.deepEqual(Object.keys(db.spec.encryptedData).sort(), ['password', 'url']);
  for (const [key, value] of Object.entries(VALUES)) {
    assert.equal(unsealValue(targetKey.keyPem, db.spec.encryptedData[key], 'shop/db').toString(), value);
    assert.throws(() => unsealValue(sourceKey.keyPem, db.spec.encryptedData[key], 'shop/db'), 'the source key cannot open it');
  }
  assert.deepEqual(db.spec.template, { metadata: { labels: { app: 'shop' } }, type: 'Opaque' }, 'the template is kept');
  const shared = await getJson(['sealedsecret', 'shared', '-n', 'shop'], 'target');
  assert.equal(unsealValue(targetKey.keyPem, shared.spec.encryptedData.token, 'shop').toString(), SHARED_VALUE, 'a namespace-wide one is sealed under the namespace label');
  const missing = await lab.kubectl(['get', 'secret', 'db', '-n', 'shop'], 'target');
  assert.notEqual(missing.code, 0);

  // The Certificate and its Secret arrive together, the certificate as issued on the source.
  const sourceTls = await getJson(['secret', 'web-tls', '-n', 'shop'], 'source');
  const targetTls = await getJson(['secret', 'web-tls', '-n', 'shop'], 'target');
  assert.equal(targetTls.data['tls.crt'], sourceTls.data['tls.crt']);
  assert.equal(targetTls.metadata.annotations['cert-manager.io/certificate-name'], 'web');
  assert.equal((await getJson(['certificate', 'web', '-n', 'shop'], 'target')).spec.secretName, 'web-tls');
  // map-annotation: the role ARN on the target is the target's.
  assert.equal((await getJson(['serviceaccount', 'api', '-n', 'shop'], 'target')).metadata.annotations['eks.amazonaws.com/role-arn'], NEW_ARN);

  // Applying again changes nothing: the target's copy was sealed from the same source ciphertext for the same certificate.
  const again = await ferry(['apply', planFile, '--slice', 'shop', '-o', 'json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).objects.find((o: any) => o.object === 'SealedSecret shop/db').action, 'unchanged');
  assert.deepEqual((await getJson(['sealedsecret', 'db', '-n', 'shop'], 'target')).spec.encryptedData, db.spec.encryptedData);
  const diff = await ferry(['diff', planFile, '--slice', 'shop', '-o', 'json']);
  assert.equal(diff.code, 0, diff.stderr);
  assert.equal(JSON.parse(diff.stdout).find((d: any) => d.object === 'SealedSecret shop/db').action, 'unchanged', 'ferry diff compares what apply would write');

  // The source's SealedSecret changes (a new password sealed, its controller unseals it): the next apply seals the new value.
  const rotated = 'rotated-password-7c1d';
  const sourceCert = sealingCertificateFromPem(sourceKey.certPem, 'source');
  await kubectlApply(JSON.stringify({ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 'db', namespace: 'shop' }, spec: { encryptedData: { password: sealValue(sourceCert.publicKey, Buffer.from(rotated), Buffer.from('shop/db')), url: sealValue(sourceCert.publicKey, Buffer.from(VALUES.url), Buffer.from('shop/db')) }, template: { metadata: { labels: { app: 'shop' } }, type: 'Opaque' } } }), 'source');
  await createUnsealed('db', { ...VALUES, password: rotated });
  const third = await ferry(['apply', planFile, '--slice', 'shop', '-o', 'json']);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(JSON.parse(third.stdout).objects.find((o: any) => o.object === 'SealedSecret shop/db').action, 'configured');
  const resealed = await getJson(['sealedsecret', 'db', '-n', 'shop'], 'target');
  assert.equal(unsealValue(targetKey.keyPem, resealed.spec.encryptedData.password, 'shop/db').toString(), rotated);

  for (const text of [applied.stdout, applied.stderr, again.stdout, again.stderr, diff.stdout, diff.stderr, third.stdout, third.stderr]) assertNoValues(text, [...Object.values(VALUES), SHARED_VALUE, rotated]);
});

test('re-sealing reads only the unsealed Secrets on the source and only tls.crt of the target key: no private key is read', async () => {
  const source = recordingClient(lab.kubeconfigFile, 'source');
  const target = recordingClient(lab.kubeconfigFile, 'target');
  try {
    const sealed = await getJson(['sealedsecret', 'db', '-n', 'shop'], 'source');
    const result = await resealSealedSecrets({ original: [sealed], desired: [sealed] }, {
      source: source.client,
      certificate: async () => {
        const certificate = await targetSealingCertificate({ target: target.client });
        assert.equal(certificate.publicKey.type, 'public', 'the sealing code is given the public key only');
        return certificate;
      },
    });
    assert.equal(unsealValue(targetKey.keyPem, (result.desired[0]!.spec as any).encryptedData.url, 'shop/db').toString(), VALUES.url);
    assert.deepEqual(source.log.requests, ['GET /api/v1/namespaces/shop/secrets/db'], 'the source: the unsealed Secret only, never kube-system');
    assert.ok(source.log.dataReads.every((read) => / shop\/db (password|url)$/.test(read)), source.log.dataReads.join(', '));
    assert.deepEqual(target.log.dataReads, ['target kube-system/sealed-secrets-keytgt01 tls.crt'], 'of the target key Secret, tls.crt only');
    assert.match(result.resealed[0]!.certificate, /^[0-9A-F:]+$/);
  } finally {
    source.client.close();
    target.client.close();
  }
});

test('ferry preflight: OK rows for the sealing certificate and the Certificate, WARN rows for IRSA (remapped) and GKE identities', async () => {
  const result = await ferry(['preflight', planFile, '-o', 'json']);
  const report = JSON.parse(result.stdout);
  const row = (check: string, subject: RegExp) => report.rows.find((r: any) => r.check === check && subject.test(r.subject));
  assert.equal(row('sealed-secrets', /target sealing certificate/).severity, 'OK');
  assert.match(row('sealed-secrets', /target sealing certificate/).message, /sealed-secrets-keytgt01 \(tls\.crt\) on target/);
  assert.equal(row('sealed-secrets', /SealedSecret shop\/db/).severity, 'OK');
  assert.equal(row('certificate', /Certificate shop\/web/).severity, 'OK');
  const irsa = row('workload-identity', /ServiceAccount shop\/api eks\.amazonaws\.com\/role-arn/);
  assert.equal(irsa.severity, 'WARN');
  assert.match(irsa.message, /remapped to arn:aws:iam::222222222222:role\/shop-api-target/);
  const gke = row('workload-identity', /ServiceAccount shop\/worker iam\.gke\.io\/gcp-service-account/);
  assert.equal(gke.severity, 'WARN');
  assert.match(gke.message, /OIDC issuer/);
  assertNoValues(result.stdout + result.stderr, [...Object.values(VALUES), SHARED_VALUE]);
});

test('a rollback re-creating a deleted SealedSecret on the source seals it again for the source controller, from what the target unsealed', async () => {
  // What the target controller would make from Ferry's SealedSecret: the unsealed Secret, owned by it.
  const onTarget = await getJson(['sealedsecret', 'db', '-n', 'shop'], 'target');
  const values = Object.fromEntries(Object.entries(onTarget.spec.encryptedData as Record<string, string>).map(([key, sealed]) => [key, unsealValue(targetKey.keyPem, sealed, 'shop/db').toString()]));
  await kubectlApply(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'db', namespace: 'shop', ownerReferences: [{ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', name: 'db', uid: onTarget.metadata.uid, controller: true }] }, data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)])) }), 'target');
  const deleted = await lab.kubectl(['delete', 'sealedsecret', 'db', '-n', 'shop'], 'source');
  assert.equal(deleted.code, 0, deleted.stderr);
  const source = recordingClient(lab.kubeconfigFile, 'source');
  const target = recordingClient(lab.kubeconfigFile, 'target');
  try {
    const slice = { name: 'shop', namespace: 'shop', workloads: [], resources: [{ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', namespace: 'shop', name: 'db' }], dependsOn: [] };
    const restored = await restoreSource(source.client, target.client, slice, { scaledToZero: {}, deleted: ['SealedSecret/shop/db'] }, 10_000);
    assert.deepEqual(restored.recreated, ['SealedSecret shop/db']);
    const back = await getJson(['sealedsecret', 'db', '-n', 'shop'], 'source');
    for (const [key, value] of Object.entries(values)) assert.equal(unsealValue(sourceKey.keyPem, back.spec.encryptedData[key], 'shop/db').toString(), value, 'the source controller can open it again');
    assert.ok(![...source.log.dataReads, ...target.log.dataReads].some((read) => read.endsWith('tls.key')), 'no private key is read on either side');
  } finally {
    source.client.close();
    target.client.close();
  }
});

test('property: no secret value appears in the re-sealed objects, reports, preflight rows or errors', async () => {
  const source = recordingClient(lab.kubeconfigFile, 'source');
  const target = recordingClient(lab.kubeconfigFile, 'target');
  const plan = migrationPlanSchema.parse(planFor(['SealedSecret:prop']));
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,12}$/), fc.string({ minLength: 8, maxLength: 64, unit: 'grapheme' }), { minKeys: 1, maxKeys: 4 }),
        fc.constantFrom('strict', 'namespace-wide', 'cluster-wide'),
        fc.boolean(),
        async (data, scope, breakIt) => {
          const name = `prop-${run++}`;
          const annotations = scope === 'strict' ? {} : { [`sealedsecrets.bitnami.com/${scope}`]: 'true' };
          // A broken one names a key the unsealed Secret lacks: the error path.
          const sealedKeys = breakIt ? [...Object.keys(data), 'MISSING'] : Object.keys(data);
          await kubectlApply(JSON.stringify({ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name, namespace: 'shop', annotations }, spec: { encryptedData: Object.fromEntries(sealedKeys.map((key) => [key, 'AAAA'])) } }), 'source');
          await createUnsealed(name, data);
          const sealed = await getJson(['sealedsecret', name, '-n', 'shop'], 'source');
          const texts: string[] = [];
          try {
            const result = await resealSealedSecrets({ original: [sealed], desired: [sealed] }, { source: source.client, certificate: () => targetSealingCertificate({ target: target.client }) });
            assert.equal(breakIt, false, 'a missing key is refused');
            texts.push(JSON.stringify(result));
            const label = scope === 'strict' ? `shop/${name}` : scope === 'namespace-wide' ? 'shop' : '';
            for (const [key, value] of Object.entries(data)) assert.equal(unsealValue(targetKey.keyPem, (result.desired[0]!.spec as any).encryptedData[key], label).toString(), value);
          } catch (error) {
            if (!breakIt) throw error;
            const failure = toFerryError(error);
            texts.push(failure.message, failure.fix ?? '', String((error as Error).stack));
          }
          const rows = await checkTrust(plan, { original: [sealed as KubeObject], desired: [sealed as KubeObject] }, [], { source: source.client, target: target.client, kubeconfig: lab.kubeconfigFile });
          texts.push(JSON.stringify(rows));
          for (const text of texts) assertNoValues(text, Object.values(data));
        },
      ),
      { numRuns: 25, seed: 20261130 },
    );
  } finally {
    source.client.close();
    target.client.close();
  }
});

test('with the controller Service on the target, its /v1/cert.pem is read through the API server\'s service proxy, and no key Secret is read', async () => {
  // The lab API server has no service proxy: a loopback server answers that one path as the API server would, relaying the controller's cert.pem.
  const served = makeSealingKey({ cn: 'served-by-controller' });
  const paths: string[] = [];
  const proxy = createServer((request, response) => {
    paths.push(request.url ?? '');
    if (request.url === '/api/v1/namespaces/kube-system/services/sealed-secrets-controller:http/proxy/v1/cert.pem') response.end(served.certPem);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  await kubectlApply(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'sealed-secrets-controller', namespace: 'kube-system' }, spec: { selector: { name: 'sealed-secrets-controller' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } }), 'target');
  const target = recordingClient(lab.kubeconfigFile, 'target');
  try {
    const config = new KubeConfig();
    config.loadFromOptions({ clusters: [{ name: 'proxy', server: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'proxy', cluster: 'proxy', user: 'u' }], currentContext: 'proxy' });
    const certificate = await targetSealingCertificate({ target: target.client, readText: clusterTextReader(config) });
    assert.match(certificate.from, /^Service kube-system\/sealed-secrets-controller \/v1\/cert\.pem/);
    const sealed = sealValue(certificate.publicKey, Buffer.from('via-proxy-value'), Buffer.from('shop/x'));
    assert.equal(unsealValue(served.keyPem, sealed, 'shop/x').toString(), 'via-proxy-value');
    assert.deepEqual(paths, ['/api/v1/namespaces/kube-system/services/sealed-secrets-controller:http/proxy/v1/cert.pem']);
    assert.deepEqual(target.log.dataReads, [], 'no Secret data read at all');
  } finally {
    target.client.close();
    proxy.close();
    await lab.kubectl(['delete', 'service', 'sealed-secrets-controller', '-n', 'kube-system'], 'target');
  }
});

function assertNoValues(text: string, values: readonly string[]): void {
  for (const value of values) {
    assert.ok(!text.includes(value), `a secret value leaked: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(b64(value)), `a secret value (base64) leaked: ${text.slice(0, 300)}`);
  }
}
