import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BOUTIQUE, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
before(async () => {
  lab = await startTestLab(['source']);
});
after(async () => {
  await lab?.stop();
});

test('inventory of a live lab cluster equals the inventory of the manifests applied to it', async () => {
  const applied = await lab.kubectl(['apply', '--server-side', '-f', BOUTIQUE]);
  assert.equal(applied.code, 0, applied.stderr);
  await lab.clusters[0]!.settled();

  const live = await ferryAsync(['inventory', '--kubeconfig', lab.kubeconfigFile, '--context', 'source', '-o', 'json']);
  assert.equal(live.code, 0, live.stderr);
  const fromFile = await ferryAsync(['inventory', '--manifests', BOUTIQUE, '-o', 'json']);
  const liveReport = JSON.parse(live.stdout);
  const fileReport = JSON.parse(fromFile.stdout);
  // The cluster allocated node ports for the LoadBalancer Service (as a real API server does, and
  // as `kubectl get svc` shows them: 80:3xxxx/TCP); the manifests name none.
  const withoutAllocatedNodePorts = (namespaces: any[]) => namespaces.map((namespace) => ({
    ...namespace,
    exposure: namespace.exposure.map((entry: any) => ({ ...entry, detail: String(entry.detail).replace(/:3\d{4}\//g, '/') })),
  }));
  assert.match(JSON.stringify(liveReport.namespaces), /80:3\d{4}\/TCP/);
  assert.deepEqual(withoutAllocatedNodePorts(liveReport.namespaces), fileReport.namespaces);
  assert.equal(liveReport.source.kind, 'cluster');
  assert.equal(liveReport.source.context, 'source');
  // What the cluster made (ReplicaSets, Pods, Endpoints, the default account...) is skipped, and said so.
  assert.ok(liveReport.skipped['owned by a controller'] >= 12 * 3, JSON.stringify(liveReport.skipped));
  assert.ok(liveReport.cluster.storageClasses.length >= 1);

  // The plan from the live cluster is the plan from the file, but for where it came from.
  const livePlan = JSON.parse((await ferryAsync(['plan', '--kubeconfig', lab.kubeconfigFile, '--from', 'source', '-o', 'json'])).stdout);
  const filePlan = JSON.parse((await ferryAsync(['plan', '--manifests', BOUTIQUE, '-o', 'json'])).stdout);
  assert.deepEqual(livePlan.spec.waves, filePlan.spec.waves);
});

test('a context that is not in the kubeconfig, and a cluster that is down, are clear errors', async () => {
  const missing = await ferryAsync(['inventory', '--kubeconfig', lab.kubeconfigFile, '--context', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /context "nope" is not in the kubeconfig \(fix: use one of: source\)/);
  lab.clusters[0]!.setFaults({ errorRate: 1 });
  const failing = await ferryAsync(['inventory', '--kubeconfig', lab.kubeconfigFile, '--context', 'source']);
  lab.clusters[0]!.setFaults({});
  assert.equal(failing.code, 1);
  assert.equal(failing.stderr.trim().split('\n').length, 1, failing.stderr);
  assert.match(failing.stderr, /cluster "source" answered 503/);
});
