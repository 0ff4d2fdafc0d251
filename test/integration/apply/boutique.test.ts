/**
 * Online Boutique, deployed on a lab source cluster with `kubectl apply --server-side`,
 * planned from the live source and applied to a lab target slice by slice with the real
 * CLI; then applied again, which must change nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUTIQUE, ferryAsync, type CliResult } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { applySlice } from '../../../src/apply/slice.js';
import { loadPlan } from '../../../src/plan/load.js';

let lab: TestLab;
let planFile: string;
let waves: string[][];

before(async () => {
  lab = await startTestLab(['source', 'target']);
  const deployed = await lab.kubectl(['apply', '--server-side', '-f', BOUTIQUE], 'source');
  assert.equal(deployed.code, 0, deployed.stderr);
  const planned = await ferry(['plan', '--from', 'source', '--to', 'target', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  planFile = join(lab.dir, 'plan.json');
  writeFileSync(planFile, planned.stdout);
  waves = JSON.parse(planned.stdout).spec.waves.map((wave: any) => wave.slices.map((slice: any) => slice.name));
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile]);

/**
 * Applies every slice, wave by wave in plan order (slices of one wave are independent, so
 * 3 run at once), with the real CLI — or, to keep the file within its time budget on two
 * shared cores, with the library function the CLI calls (each CLI start costs ~3 s of CPU).
 */
async function applyAll(via: 'cli' | 'library'): Promise<Map<string, any>> {
  const reports = new Map<string, any>();
  const { plan } = loadPlan(planFile);
  for (const wave of waves) {
    const queue = [...wave];
    await Promise.all([1, 2, 3].map(async () => {
      for (let slice = queue.shift(); slice; slice = queue.shift()) {
        if (via === 'library') {
          reports.set(slice, JSON.parse(JSON.stringify(await applySlice(plan, slice, { kubeconfig: lab.kubeconfigFile }))));
          continue;
        }
        const result: CliResult = await ferry(['apply', planFile, '--slice', slice, '-o', 'json']);
        assert.equal(result.code, 0, `${slice}: ${result.stderr}`);
        assert.equal(result.stderr, '', 'no progress bar when stderr is not a terminal');
        reports.set(slice, JSON.parse(result.stdout));
      }
    }));
  }
  return reports;
}

async function resourceVersions(): Promise<Record<string, string>> {
  const listed = await lab.kubectl(['get', 'deploy,svc,sa', '-n', 'default', '-o', 'json'], 'target');
  return Object.fromEntries(JSON.parse(listed.stdout).items.map((item: any) => [`${item.kind}/${item.metadata.name}`, item.metadata.resourceVersion]));
}

test('Online Boutique applied slice by slice from a live source: all 12 Deployments Available; a second apply changes nothing', async () => {
  const first = await applyAll('cli');
  assert.equal(first.size, 12);
  for (const [slice, report] of first) {
    assert.deepEqual(report.counts, { created: report.objects.length, configured: 0, unchanged: 0 }, slice);
    assert.equal(report.target, 'target');
  }
  const deployments = JSON.parse((await lab.kubectl(['get', 'deploy', '-n', 'default', '-o', 'json'], 'target')).stdout).items;
  assert.equal(deployments.length, 12);
  for (const deployment of deployments) {
    const available = deployment.status.conditions.find((c: any) => c.type === 'Available');
    assert.equal(available?.status, 'True', deployment.metadata.name);
    assert.equal(deployment.status.observedGeneration, deployment.metadata.generation);
    assert.equal(deployment.status.updatedReplicas, deployment.spec.replicas);
  }

  const before = await resourceVersions();
  assert.equal(Object.keys(before).length, 12 + 13 + 12, 'Deployments, Services (frontend has two) and ServiceAccounts');
  const second = await applyAll('library');
  for (const [slice, report] of second) {
    assert.deepEqual(report.counts, { created: 0, configured: 0, unchanged: report.objects.length }, slice);
    for (const object of report.objects) {
      const [kind, name] = [object.object.split(' ')[0], object.object.split('/')[1]];
      assert.equal(object.resourceVersion, before[`${kind}/${name}`], object.object);
    }
  }
  assert.deepEqual(await resourceVersions(), before, 'no resourceVersion changed');

  const text = await ferry(['apply', planFile, '--slice', 'frontend']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^unchanged {2}ServiceAccount default\/frontend$/m);
  assert.match(text.stdout, /^0 created, 0 configured, 4 unchanged on target in \d+\.\d s$/m);
});

test('a resource the plan lists but the source no longer has is a one-line error naming it, with the fix', async () => {
  const deleted = await lab.kubectl(['delete', 'service', 'emailservice', '-n', 'default'], 'source');
  assert.equal(deleted.code, 0, deleted.stderr);
  const result = await ferry(['apply', planFile, '--slice', 'emailservice']);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^error: Service default\/emailservice: slice emailservice: listed in the plan but not on the source \(context source\) \(fix: regenerate the plan/);
});
