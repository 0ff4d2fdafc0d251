/**
 * Trust carried, not re-issued (issue 22 part 4), without a cluster: the sealed-secrets format
 * (checked by an independent unsealing with the target key), where the sealing certificate
 * comes from, Certificates planned with their Secrets, expiry and workload-identity rows, and
 * the map-annotation transform.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptionLabel, sealValue, sealingCertificateFromPem, sealingScope, targetSealingCertificate } from '../../../src/trust/sealed-secrets.js';
import { checkCertificates, migrationWindowMs } from '../../../src/trust/cert-manager.js';
import { checkWorkloadIdentity } from '../../../src/trust/workload-identity.js';
import { compileTransforms, transformObjects, transformProblems } from '../../../src/apply/transforms/index.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { migrationPlanSchema } from '../../../src/plan/schema.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { FerryError } from '../../../src/util/errors.js';
import { checkReferences, type TargetFacts } from '../../../src/apply/preflight/checks.js';
import { makeSealingKey, unsealValue } from '../../helpers/trust.js';

const key = makeSealingKey();

test('a value sealed for the target certificate unseals with the target key, under its scope\'s label only', () => {
  const certificate = sealingCertificateFromPem(key.certPem, 'test');
  assert.equal(certificate.publicKey.type, 'public', 'sealing is given the public key only');
  const plain = Buffer.from('postgres://app:hunter2-long@db:5432/shop');
  for (const [scope, label] of [['strict', 'shop/db'], ['namespace-wide', 'shop'], ['cluster-wide', '']] as const) {
    assert.equal(encryptionLabel(scope, 'shop', 'db').toString(), label);
    const sealed = sealValue(certificate.publicKey, plain, encryptionLabel(scope, 'shop', 'db'));
    const bytes = Buffer.from(sealed, 'base64');
    assert.equal(bytes.readUInt16BE(0), 256, 'a 2048-bit RSA ciphertext, its length first');
    assert.equal(bytes.length, 2 + 256 + plain.length + 16, 'then the AES-GCM ciphertext and its 16-byte tag');
    assert.deepEqual(unsealValue(key.keyPem, sealed, label), plain);
    // The label binds the value to its scope: another name does not unseal.
    assert.throws(() => unsealValue(key.keyPem, sealed, 'other/name'));
  }
  // Each value gets its own session key.
  assert.notEqual(sealValue(certificate.publicKey, plain, Buffer.from('a/b')), sealValue(certificate.publicKey, plain, Buffer.from('a/b')));
  assert.deepEqual(unsealValue(key.keyPem, sealValue(certificate.publicKey, Buffer.alloc(0), Buffer.from('a/b')), 'a/b'), Buffer.alloc(0));
});

test('the scope is read from the SealedSecret\'s annotations, as upstream reads it', () => {
  assert.equal(sealingScope({ metadata: { name: 'x' } }), 'strict');
  assert.equal(sealingScope({ metadata: { name: 'x', annotations: { 'sealedsecrets.bitnami.com/namespace-wide': 'true' } } }), 'namespace-wide');
  assert.equal(sealingScope({ metadata: { name: 'x', annotations: { 'sealedsecrets.bitnami.com/cluster-wide': 'true', 'sealedsecrets.bitnami.com/namespace-wide': 'true' } } }), 'cluster-wide');
});

test('a certificate file from the plan is used; a private key or garbage is refused without quoting it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-trust-'));
  const target = { contextName: 'target', request: async () => assert.fail('the cluster is not read when the plan gives the certificate') } as unknown as KubeClient;
  writeFileSync(join(dir, 'cert.pem'), key.certPem);
  const found = await targetSealingCertificate({ target, settings: { certificate: { file: join(dir, 'cert.pem') } } });
  assert.match(found.fingerprint, /^[0-9A-F:]{95}$/);
  writeFileSync(join(dir, 'key.pem'), key.keyPem);
  const refused = await targetSealingCertificate({ target, settings: { certificate: { file: join(dir, 'key.pem') } } }).catch((error: unknown) => error);
  assert.ok(refused instanceof FerryError);
  assert.match(refused.message, /does not hold a PEM certificate/);
  assert.ok(!refused.message.includes('PRIVATE') && !refused.message.includes(key.keyPem.split('\n')[1]!));
  // The plan cannot name a key Secret's private half.
  const parsed = migrationPlanSchema.shape.spec.shape.trust.safeParse({ sealedSecrets: { certificate: { secret: { namespace: 'kube-system', name: 'k', key: 'tls.key' } } } });
  assert.equal(parsed.success, false);
});

test('ferry plan puts a Certificate and its Secret in the slice that uses the Secret', () => {
  const objects: KubeObject[] = [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop' }, spec: { tls: [{ hosts: ['shop.example.com'], secretName: 'web-tls' }], rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-tls', namespace: 'shop' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(key.certPem).toString('base64') } },
    { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'web', namespace: 'shop' }, spec: { secretName: 'web-tls', dnsNames: ['shop.example.com'], issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' } } },
  ];
  const plan = generatePlan(objects, { source: { context: 'source' }, target: { context: 'target' } });
  const slices = plan.spec.waves.flatMap((wave) => wave.slices);
  const holding = (kind: string) => slices.filter((slice) => slice.resources.some((ref) => ref.kind === kind)).map((slice) => slice.name);
  assert.deepEqual(holding('Certificate'), holding('Secret'));
  assert.deepEqual(holding('Certificate'), holding('Ingress'));
});

test('preflight: a Certificate whose certificate expires within the migration window, or whose Secret is missing, is a WARN', () => {
  const short = makeSealingKey({ days: 1 });
  const plan = migrationPlanSchema.parse({
    apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'm' },
    spec: {
      source: { context: 'source' }, target: { context: 'target' },
      defaults: { traffic: { steps: [10, 100], stepWindow: '12h' }, gates: {}, analysis: {}, rollback: {}, decommission: { after: '1h' } },
      waves: [{ name: 'wave-1', slices: [{ name: 'web', namespace: 'shop', workloads: [], resources: ['a', 'b', 'c'].flatMap((n) => [{ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', namespace: 'shop', name: n }, { apiVersion: 'v1', kind: 'Secret', namespace: 'shop', name: `${n}-tls` }]) }] }],
    },
  });
  assert.equal(migrationWindowMs(plan), 25 * 3_600_000, 'two 12 h steps and a 1 h soak');
  const certificate = (name: string): KubeObject => ({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name, namespace: 'shop' }, spec: { secretName: `${name}-tls` } });
  const secret = (name: string, pem: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-tls`, namespace: 'shop' }, data: { 'tls.crt': Buffer.from(pem).toString('base64'), 'tls.key': 'never-read' } });
  const rows = checkCertificates(plan, { desired: [certificate('a'), certificate('b'), certificate('c')] }, [secret('a', key.certPem), secret('b', short.certPem)]);
  const by = Object.fromEntries(rows.map((row) => [row.subject, row]));
  assert.equal(by['Certificate shop/a']!.severity, 'OK');
  assert.equal(by['Certificate shop/b']!.severity, 'WARN');
  assert.match(by['Certificate shop/b']!.message, /within the migration window \(~25 h\)/);
  assert.equal(by['Certificate shop/c']!.severity, 'WARN');
  assert.match(by['Certificate shop/c']!.message, /Secret shop\/c-tls is missing on the source/);
});

test('map-annotation remaps a role ARN; preflight warns for IRSA, GKE and Azure identities and names the remapped one', () => {
  const oldArn = 'arn:aws:iam::111111111111:role/shop-source';
  const newArn = 'arn:aws:iam::222222222222:role/shop-target';
  const accounts: KubeObject[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'shop', annotations: { 'eks.amazonaws.com/role-arn': oldArn } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'worker', namespace: 'shop', annotations: { 'iam.gke.io/gcp-service-account': 'worker@proj.iam.gserviceaccount.com' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'az', namespace: 'shop', annotations: { 'azure.workload.identity/client-id': '00000000-0000-0000-0000-000000000001' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'plain', namespace: 'shop' } },
  ];
  const specs = [{ name: 'map-annotation', with: { annotation: 'eks.amazonaws.com/role-arn', values: { [oldArn]: newArn }, select: { namespace: 'shop' } } }];
  const desired = transformObjects(accounts, compileTransforms(specs));
  assert.equal(desired[0]!.metadata.annotations!['eks.amazonaws.com/role-arn'], newArn);
  assert.equal(accounts[0]!.metadata.annotations!['eks.amazonaws.com/role-arn'], oldArn, 'the source object is not changed');
  assert.equal(desired[3], accounts[3], 'objects without the annotation pass untouched');
  const rows = checkWorkloadIdentity({ original: accounts, desired });
  assert.deepEqual(rows.map((row) => [row.severity, row.subject]), [
    ['WARN', 'ServiceAccount shop/api eks.amazonaws.com/role-arn'],
    ['WARN', 'ServiceAccount shop/worker iam.gke.io/gcp-service-account'],
    ['WARN', 'ServiceAccount shop/az azure.workload.identity/client-id'],
  ]);
  assert.match(rows[0]!.message, /remapped to arn:aws:iam::222222222222:role\/shop-target/);
  assert.match(rows[1]!.message, /OIDC issuer/);
  const problems = transformProblems({ spec: { transforms: [{ name: 'map-annotation', with: { values: {} } }], waves: [] } });
  assert.deepEqual(problems.map((problem) => problem.path), [['spec', 'transforms', 0, 'with', 'annotation']]);
});

test('ferry plan puts a SealedSecret with the first slice using the Secret its controller makes; preflight counts that Secret as made', () => {
  const objects: KubeObject[] = [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'api:1', envFrom: [{ secretRef: { name: 'db' } }] }] } } } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } } },
    { apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 'db', namespace: 'shop' }, spec: { encryptedData: { url: 'AgB…' } } },
  ];
  const plan = generatePlan(objects, { source: { context: 'source' }, target: { context: 'target' } });
  const slices = plan.spec.waves.flatMap((wave) => wave.slices);
  const holder = slices.find((slice) => slice.resources.some((ref) => ref.kind === 'SealedSecret'));
  assert.ok(holder?.resources.some((ref) => ref.kind === 'Deployment' && ref.name === 'api'), `the SealedSecret is in ${holder?.name}, not with its user`);
  const facts = { configObjects: new Set<string>() } as unknown as TargetFacts;
  const rows = checkReferences({ desired: objects, original: objects }, facts);
  assert.deepEqual(rows.map((row) => [row.severity, row.subject]), [['OK', 'Secret/shop/db']]);
  assert.match(rows[0]!.message, /sealed-secrets controller makes it/);
});
