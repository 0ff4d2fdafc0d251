/**
 * `ferry diff` before and after an apply and after a manual edit on the target, and the
 * conflict that edit causes for `ferry apply` until --force-conflicts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUTIQUE, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let planFile: string;
const IMAGE = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/cartservice:v0.10.6';

before(async () => {
  lab = await startTestLab(['target']);
  const planned = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  planFile = join(lab.dir, 'plan.json');
  writeFileSync(planFile, planned.stdout);
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile]);

test('diff: creations first; nothing after the apply; then exactly the field edited on the target, as a unified diff', async () => {
  const fresh = await ferry(['diff', planFile, '--slice', 'cartservice']);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /^\+ Deployment default\/cartservice \(create\)\n--- \/dev\/null\n\+\+\+ create Deployment default\/cartservice\n@@ -0,0 \+1,\d+ @@\n\+apiVersion: apps\/v1\n/m);
  assert.match(fresh.stdout, /^\+ {10}image: us-central1-docker\.pkg\.dev\/online-boutique-ci\/microservices-demo\/cartservice:v0\.10\.6$/m);
  assert.match(fresh.stdout, /^3 to create, 0 to change, 0 unchanged$/m);

  assert.equal((await ferry(['apply', planFile, '--slice', 'cartservice'])).code, 0);
  const clean = await ferry(['diff', planFile, '--slice', 'cartservice', '-o', 'json']);
  assert.deepEqual(JSON.parse(clean.stdout).map((d: any) => d.action), ['unchanged', 'unchanged', 'unchanged']);

  // Someone hot-fixes the image on the target by hand.
  const edited = await lab.kubectl(['set', 'image', 'deployment/cartservice', '-n', 'default', 'server=example.com/cart:hotfix'], 'target');
  assert.equal(edited.code, 0, edited.stderr);
  const json = JSON.parse((await ferry(['diff', planFile, '--slice', 'cartservice', '-o', 'json'])).stdout);
  const changed = json.find((d: any) => d.object === 'Deployment default/cartservice');
  assert.equal(changed.action, 'change');
  assert.deepEqual(changed.changes, [{ path: 'spec.template.spec.containers[0].image', before: 'example.com/cart:hotfix', after: IMAGE }]);
  assert.deepEqual(changed.conflicts, [{ manager: 'kubectl-set', apiVersion: 'apps/v1', field: '.spec.template.spec.containers[name="server"].image' }]);
  const text = await ferry(['diff', planFile, '--slice', 'cartservice']);
  assert.match(text.stdout, new RegExp([
    '~ Deployment default/cartservice',
    '  conflict: \\.spec\\.template\\.spec\\.containers\\[name="server"\\]\\.image is owned by "kubectl-set" \\(apply needs --force-conflicts\\)',
    '--- live Deployment default/cartservice',
    '\\+\\+\\+ after apply Deployment default/cartservice',
    '@@ -\\d+,7 \\+\\d+,7 @@',
    '(?: .*\\n){3}-          image: example\\.com/cart:hotfix',
    `\\+          image: ${IMAGE.replace(/\./g, '\\.')}`,
  ].join('\n')));
  assert.match(text.stdout, /^0 to create, 1 to change, 2 unchanged$/m);
});

test('apply: a field another manager owns is a one-line conflict naming the field, the manager and --force-conflicts; forcing takes it over', async () => {
  const conflict = await ferry(['apply', planFile, '--slice', 'cartservice']);
  assert.equal(conflict.code, 1);
  assert.equal(conflict.stdout, '');
  assert.equal(conflict.stderr.trim().split('\n').length, 1);
  assert.match(conflict.stderr, /^error: Deployment default\/cartservice: conflict with another field manager on the target: \.spec\.template\.spec\.containers\[name="server"\]\.image owned by "kubectl-set" \(fix: apply with --force-conflicts/);

  const forced = await ferry(['apply', planFile, '--slice', 'cartservice', '--force-conflicts', '-o', 'json']);
  assert.equal(forced.code, 0, forced.stderr);
  const report = JSON.parse(forced.stdout);
  assert.deepEqual(report.objects.map((o: any) => `${o.action} ${o.object}`), [
    'unchanged ServiceAccount default/cartservice',
    'unchanged Service default/cartservice',
    'configured Deployment default/cartservice',
  ]);
  const live = JSON.parse((await lab.kubectl(['get', 'deployment', 'cartservice', '-n', 'default', '-o', 'json'], 'target')).stdout);
  assert.equal(live.spec.template.spec.containers[0].image, IMAGE);
  assert.equal(live.status.observedGeneration, live.metadata.generation, 'waited for the rollout of the new generation');
  // Ferry owns the field again: a plain apply is clean and changes nothing.
  const again = await ferry(['apply', planFile, '--slice', 'cartservice', '-o', 'json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).counts, { created: 0, configured: 0, unchanged: 3 });
});

test('apply after a Ferry rollback scaled the target to zero: replicas come back without --force-conflicts', async () => {
  // What `ferry rollback` does to the target's workloads (src/run/environment.ts retireTarget).
  const scaled = await lab.kubectl(['patch', 'deployment', 'cartservice', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"replicas":0}}', '--field-manager', 'ferry-rollback'], 'target');
  assert.equal(scaled.code, 0, scaled.stderr);
  const again = await ferry(['apply', planFile, '--slice', 'cartservice', '-o', 'json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).counts, { created: 0, configured: 1, unchanged: 2 });
  const live = JSON.parse((await lab.kubectl(['get', 'deployment', 'cartservice', '-n', 'default', '-o', 'json'], 'target')).stdout);
  assert.equal(live.spec.replicas, 1);
  assert.equal(live.status.availableReplicas, 1);
  // A person scaling it by hand is still somebody else's decision: that conflicts.
  await lab.kubectl(['patch', 'deployment', 'cartservice', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"replicas":3}}', '--field-manager', 'ops-oncall'], 'target');
  const conflict = await ferry(['apply', planFile, '--slice', 'cartservice']);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /\.spec\.replicas owned by "ops-oncall"/);
});
