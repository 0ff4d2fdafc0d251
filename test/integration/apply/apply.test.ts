import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUTIQUE, REPO, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
before(async () => {
  lab = await startTestLab(['target']);
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile], { env: { FERRY_STATE_DIR: join(lab.dir, 'state') } });

async function planFile(manifests: string, name: string, edit: (text: string) => string = (t) => t): Promise<{ file: string; slices: string[] }> {
  const result = await ferryAsync(['plan', '--manifests', manifests, '--to', 'target', '-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout);
  const file = join(lab.dir, name);
  writeFileSync(file, edit(result.stdout));
  return { file, slices: plan.spec.waves.flatMap((wave: any) => wave.slices.map((slice: any) => slice.name)) };
}

async function resourceVersions(): Promise<Record<string, string>> {
  const listed = await lab.kubectl(['get', 'deploy,svc,sa,cm,secret', '-n', 'default', '-o', 'json'], 'target');
  return Object.fromEntries(JSON.parse(listed.stdout).items.map((item: any) => [`${item.kind}/${item.metadata.name}`, item.metadata.resourceVersion]));
}

test('Online Boutique applied slice by slice: every Deployment Available, and a second apply changes nothing', async () => {
  const { file, slices } = await planFile(BOUTIQUE, 'boutique.yaml');
  for (const slice of slices) {
    const applied = await ferry(['apply', file, '--slice', slice, '-o', 'json']);
    assert.equal(applied.code, 0, `${slice}: ${applied.stderr}`);
    const report = JSON.parse(applied.stdout);
    assert.equal(report.counts.configured, 0);
    assert.ok(report.counts.created > 0, slice);
  }
  const deployments = JSON.parse((await lab.kubectl(['get', 'deploy', '-n', 'default', '-o', 'json'], 'target')).stdout).items;
  assert.equal(deployments.length, 12);
  for (const deployment of deployments) {
    assert.ok(deployment.status.conditions.some((c: any) => c.type === 'Available' && c.status === 'True'), deployment.metadata.name);
  }

  const before = await resourceVersions();
  for (const slice of slices) {
    const again = await ferry(['apply', file, '--slice', slice, '-o', 'json']);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout);
    assert.deepEqual(report.counts, { created: 0, configured: 0, unchanged: report.objects.length }, slice);
  }
  assert.deepEqual(await resourceVersions(), before, 'no resourceVersion changed');

  const text = await ferry(['apply', file, '--slice', 'frontend']);
  assert.match(text.stdout, /0 created, 0 configured, \d+ unchanged on target/);
});

test('diff shows creations, then exactly the field someone changed on the target', async () => {
  const { file } = await planFile(BOUTIQUE, 'boutique-diff.yaml');
  const clean = JSON.parse((await ferry(['diff', file, '--slice', 'cartservice', '-o', 'json'])).stdout);
  assert.ok(clean.every((d: any) => d.action === 'unchanged'), JSON.stringify(clean));
  // Someone changes a field Ferry's manifests set (replicas are not set by Boutique, so they would not count).
  const patched = await lab.kubectl(['set', 'image', 'deployment/cartservice', '-n', 'default', 'server=example.com/cart:hotfix'], 'target');
  assert.equal(patched.code, 0, patched.stderr);
  const diff = JSON.parse((await ferry(['diff', file, '--slice', 'cartservice', '-o', 'json'])).stdout);
  const changed = diff.find((d: any) => d.object === 'Deployment default/cartservice');
  assert.equal(changed.action, 'change');
  const image = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/cartservice:v0.10.6';
  assert.deepEqual(changed.changes, [{ path: 'spec.template.spec.containers[0].image', before: 'example.com/cart:hotfix', after: image }]);
  const text = await ferry(['diff', file, '--slice', 'cartservice']);
  assert.match(text.stdout, /~ Deployment default\/cartservice\n {4}spec\.template\.spec\.containers\[0\]\.image: "example\.com\/cart:hotfix" → "us-central1/);
});

test('a field another manager owns is a conflict naming --force-conflicts; forcing takes it over', async () => {
  const { file } = await planFile(BOUTIQUE, 'boutique-conflict.yaml');
  const manifest = join(lab.dir, 'team-a.yaml');
  writeFileSync(manifest, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: adservice\n  namespace: default\nspec:\n  ports:\n  - name: grpc\n    port: 9555\n    targetPort: 9999\n');
  const taken = await lab.kubectl(['apply', '--server-side', '--field-manager', 'team-a', '--force-conflicts', '-f', manifest], 'target');
  assert.equal(taken.code, 0, taken.stderr);
  const conflict = await ferry(['apply', file, '--slice', 'adservice']);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /Service default\/adservice.*conflict.*team-a.*--force-conflicts/);
  const forced = await ferry(['apply', file, '--slice', 'adservice', '--force-conflicts', '-o', 'json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(forced.stdout).objects.find((o: any) => o.object === 'Service default/adservice').action, 'configured');
});

test('Secret values never appear in preflight, diff, apply or their JSON, nor in any file Ferry writes', async () => {
  const password = 'super-secret';
  const encoded = Buffer.from(password).toString('base64');
  const { file } = await planFile(`${REPO}/test/fixtures/helm-rendered.yaml`, 'secrets.yaml', (text) => text.replace('"transforms":[{"name":"strip-server-fields"}]', '"transforms":[{"name":"strip-server-fields"},{"name":"map-storage-class","with":{"fast-ssd":"standard"}},{"name":"map-ingress-class","with":{"nginx":"standard"}}]'));
  const outputs: string[] = [];
  for (const args of [
    ['preflight', file], ['preflight', file, '-o', 'json'],
    ['diff', file, '--slice', 'shop-api'], ['diff', file, '--slice', 'shop-api', '-o', 'json'],
    ['apply', file, '--slice', 'shop-api', '--dry-run'], ['apply', file, '--slice', 'shop-api', '-o', 'json'],
    ['diff', file, '--slice', 'shop-api', '-o', 'json'], ['apply', file, '--slice', 'shop-api'],
  ]) {
    const result = await ferry(args);
    outputs.push(`${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  }
  const secret = JSON.parse((await lab.kubectl(['get', 'secret', 'shop-db', '-n', 'default', '-o', 'json'], 'target')).stdout);
  assert.equal(secret.data.password, encoded, 'the Secret did reach the target intact');
  const written = listFiles(lab.dir).filter((path) => !path.endsWith('kubeconfig') && !path.endsWith('.yaml')).map((path) => readFileSync(path, 'utf8'));
  for (const text of [...outputs, ...written]) {
    assert.ok(!text.includes(password), `value leaked:\n${text.slice(0, 400)}`);
    assert.ok(!text.includes(encoded), `base64 value leaked:\n${text.slice(0, 400)}`);
  }
  assert.match(outputs[2]!, /password: <redacted>/);
});

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}
