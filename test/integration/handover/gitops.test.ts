/**
 * GitOps does not fight the migration: on the lab's source cluster a Flux Kustomization and an
 * Argo CD Application (our own minimal CRDs, test/fixtures/gitops/crds.yaml) manage the
 * adservice slice's objects through their tracking labels and annotation. Preflight names
 * both; a `ferry run` of the slice suspends both before it scales the source to zero (read
 * back from the cluster), and says they must be pointed at the target; `ferry rollback`
 * restores their sync settings exactly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUTIQUE, REPO, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let stateDir: string;
before(async () => {
  lab = await startTestLab(['source', 'target']);
  stateDir = join(lab.dir, 'state');
  const boutique = await lab.kubectl(['apply', '--server-side', '--field-manager', 'team-ci', '-f', BOUTIQUE], 'source');
  assert.equal(boutique.code, 0, boutique.stderr);
  const crds = await lab.kubectl(['apply', '--server-side', '-f', `${REPO}/test/fixtures/gitops/crds.yaml`], 'source');
  assert.equal(crds.code, 0, crds.stderr);
  await lab.clusters[0]!.settled();
  const managers = await lab.kubectl(['apply', '--server-side', '-f', `${REPO}/test/fixtures/gitops/managers.yaml`], 'source');
  assert.equal(managers.code, 0, managers.stderr);
  // What the controllers wrote on the objects they manage: Flux's labels on the Deployment,
  // Argo CD's tracking annotation on the Service (annotation tracking, Argo CD 3's default).
  for (const args of [
    ['label', 'deployment/adservice', 'kustomize.toolkit.fluxcd.io/name=apps', 'kustomize.toolkit.fluxcd.io/namespace=flux-system'],
    ['annotate', 'service/adservice', 'argocd.argoproj.io/tracking-id=ads:/Service:default/adservice'],
    // Helm sets the same instance label Argo CD's label tracking uses: with no Application of that name, nobody manages it.
    ['label', 'serviceaccount/adservice', 'app.kubernetes.io/instance=ads-chart'],
    // An Argo CD on a management cluster (Application `platform` in its namespace `mgmt`): nothing here to suspend.
    ['create', 'configmap', 'ads-config', '--from-literal=currency=EUR'],
    ['annotate', 'configmap/ads-config', 'argocd.argoproj.io/tracking-id=mgmt_platform:/ConfigMap:default/ads-config'],
  ]) {
    const done = await lab.kubectl([...args, '-n', 'default'], 'source');
    assert.equal(done.code, 0, done.stderr);
  }
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);
const getJson = async (args: string[]) => JSON.parse((await lab.kubectl(['get', ...args, '-o', 'json'], 'source')).stdout);

async function writePlan(): Promise<string> {
  const planned = await ferryAsync(['plan', '--from', 'source', '--to', 'target', '--kubeconfig', lab.kubeconfigFile, '--name', 'gitops', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  const plan = JSON.parse(planned.stdout);
  const slice = plan.spec.waves.flatMap((wave: any) => wave.slices).find((candidate: any) => candidate.name === 'adservice');
  slice.resources.push({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'ads-config' });
  plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], traffic: { provider: 'none' } }] }];
  plan.spec.defaults.decommission = { ...plan.spec.defaults.decommission, after: '0s', requireIdle: false, scaleSourceToZero: true };
  plan.spec.defaults.rollback.keepSourceFor = '0s';
  const file = join(lab.dir, 'gitops.json');
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

test('preflight names the Flux Kustomization and the Argo CD Application; the run suspends both before decommission; rollback restores them', async () => {
  const plan = await writePlan();

  const preflight = JSON.parse((await ferryAsync(['preflight', plan, '--kubeconfig', lab.kubeconfigFile, '-o', 'json'])).stdout);
  const gitops = preflight.rows.filter((row: any) => row.check === 'gitops');
  assert.deepEqual(gitops.map((row: any) => [row.severity, row.subject]).sort(), [['WARN', 'Application argocd/ads'], ['WARN', 'Application mgmt/platform'], ['WARN', 'Kustomization flux-system/apps']]);
  assert.match(gitops.find((row: any) => row.subject === 'Application mgmt/platform').message, /is not on the source cluster/);
  assert.match(gitops.find((row: any) => row.subject.startsWith('Kustomization')).message, /manages Deployment default\/adservice \(slice adservice\).*spec\.suspend: true/);
  assert.match(gitops.find((row: any) => row.subject.startsWith('Application')).message, /manages Service default\/adservice \(slice adservice\).*automated sync off/);

  const run = await ferry(['run', plan, '-o', 'json']);
  assert.equal(run.code, 0, run.stderr);
  const state = JSON.parse(run.stdout);
  assert.equal(state.status, 'completed');

  // Read back from the source cluster: both suspended, the rest of their settings untouched.
  const kustomization = await getJson(['kustomization', 'apps', '-n', 'flux-system']);
  const application = await getJson(['application', 'ads', '-n', 'argocd']);
  assert.equal(kustomization.spec.suspend, true);
  assert.equal(kustomization.spec.interval, '5m');
  assert.equal(application.spec.syncPolicy.automated, undefined);
  assert.deepEqual(application.spec.syncPolicy.syncOptions, ['ServerSideApply=true']);
  assert.equal((await getJson(['deployment', 'adservice', '-n', 'default'])).spec.replicas, 0);

  // Journaled before the scale-down, with what they had and what the user must re-point.
  const records = readFileSync(join(stateDir, 'runs', state.id, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const suspendedAt = records.findIndex((record) => record.type === 'gitops-suspended');
  const decommissioned = records.findIndex((record) => record.type === 'stage-completed' && record.data.stage === 'decommission');
  assert.ok(suspendedAt >= 0 && suspendedAt < decommissioned, 'suspension journaled before the decommission completed');
  const suspensions = records[suspendedAt].data.suspensions;
  assert.deepEqual(suspensions.find((s: any) => s.kind === 'Application').previous, { automated: { prune: true, selfHeal: true } });
  assert.deepEqual(suspensions.find((s: any) => s.kind === 'Kustomization').previous, {});
  const result = records[decommissioned].data;
  assert.deepEqual([...result.gitopsSuspended].sort(), ['Application argocd/ads', 'Kustomization flux-system/apps']);
  // The management cluster's Application cannot be changed from here: the user is told to, not blocked.
  assert.deepEqual(result.gitopsNotOnSource, ['Application mgmt/platform']);
  assert.ok(result.pointAtTarget.some((line: string) => /Application mgmt\/platform is not on the source cluster .*turn its sync off there by hand/.test(line)));
  assert.ok(result.pointAtTarget.some((line: string) => /Argo CD Application argocd\/ads's spec\.destination at the target cluster/.test(line)));
  assert.ok(result.pointAtTarget.some((line: string) => /Kustomization flux-system\/apps from a Flux on the target cluster/.test(line)));

  const rolledBack = await ferry(['rollback', readdirSync(join(stateDir, 'runs'))[0]!, '-o', 'json']);
  assert.equal(rolledBack.code, 0, rolledBack.stderr);
  const restoredKustomization = await getJson(['kustomization', 'apps', '-n', 'flux-system']);
  const restoredApplication = await getJson(['application', 'ads', '-n', 'argocd']);
  assert.equal(restoredKustomization.spec.suspend, undefined, 'Flux reconciles again, as before');
  assert.deepEqual(restoredApplication.spec.syncPolicy.automated, { prune: true, selfHeal: true });
  assert.equal(restoredApplication.metadata.annotations?.['ferry.dev/sync-before-migration'], undefined);
  assert.equal(restoredKustomization.metadata.annotations?.['ferry.dev/sync-before-migration'], undefined);
});
