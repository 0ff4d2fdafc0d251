/**
 * Secrets travel through memory only: their values never appear in what preflight, diff
 * or apply print (text or JSON, success or failure) nor in any file Ferry writes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let planFile: string;
const PASSWORD = 'super-secret';
const ENCODED = Buffer.from(PASSWORD).toString('base64');
const NEW_PASSWORD = 'changed-on-target';

before(async () => {
  lab = await startTestLab(['target']);
  const planned = await ferryAsync(['plan', '--manifests', `${REPO}/test/fixtures/helm-rendered.yaml`, '--to', 'target', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  const plan = JSON.parse(planned.stdout);
  plan.spec.transforms.push({ name: 'map-storage-class', with: { 'fast-ssd': 'standard' } }, { name: 'map-ingress-class', with: { nginx: 'standard' } });
  planFile = join(lab.dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile], { env: { FERRY_STATE_DIR: join(lab.dir, 'state') } });

test('Secret values never appear in preflight, diff, apply or their JSON, nor in any file Ferry writes', async () => {
  const outputs: string[] = [];
  const run = async (args: string[]) => {
    const result = await ferry(args);
    outputs.push(`${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  for (const args of [
    ['preflight', planFile], ['preflight', planFile, '-o', 'json'],
    ['diff', planFile, '--slice', 'shop-api'], ['diff', planFile, '--slice', 'shop-api', '-o', 'json'],
    ['apply', planFile, '--slice', 'shop-api', '--dry-run'], ['apply', planFile, '--slice', 'shop-api', '-o', 'json'],
    ['diff', planFile, '--slice', 'shop-api', '-o', 'json'], ['apply', planFile, '--slice', 'shop-api'],
  ]) await run(args);
  const secret = JSON.parse((await lab.kubectl(['get', 'secret', 'shop-db', '-n', 'default', '-o', 'json'], 'target')).stdout);
  assert.equal(secret.data.password, ENCODED, 'the Secret reached the target intact');
  assert.match(outputs[2]!, /^\+ {2}password: <redacted>$/m);

  // Someone changes the value on the target: the diff says it changed, never what to.
  const edited = await lab.kubectl(['patch', 'secret', 'shop-db', '-n', 'default', '--type', 'merge', '-p', JSON.stringify({ stringData: { password: NEW_PASSWORD } })], 'target');
  assert.equal(edited.code, 0, edited.stderr);
  const text = await run(['diff', planFile, '--slice', 'shop-api']);
  assert.match(text.stdout, /^- {2}password: <redacted>\n\+ {2}password: <redacted, changed>$/m);
  const json = await run(['diff', planFile, '--slice', 'shop-api', '-o', 'json']);
  const change = JSON.parse(json.stdout).find((d: any) => d.object === 'Secret default/shop-db');
  assert.deepEqual(change.changes, [{ path: 'data.password', before: '<redacted>', after: '<redacted, changed>' }]);
  // The conflict error of the apply quotes the field, not the value.
  await run(['apply', planFile, '--slice', 'shop-api']);
  await run(['apply', planFile, '--slice', 'shop-api', '--force-conflicts', '-o', 'json']);

  const written = listFiles(lab.dir).filter((path) => !path.endsWith('kubeconfig')).map((path) => readFileSync(path, 'utf8'));
  const newEncoded = Buffer.from(NEW_PASSWORD).toString('base64');
  for (const text of [...outputs, ...written]) {
    for (const value of [PASSWORD, ENCODED, NEW_PASSWORD, newEncoded]) assert.ok(!text.includes(value), `value leaked:\n${text.slice(0, 600)}`);
  }
});

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}
