/**
 * `ferry run` end to end on real parts — a lab target cluster, the router as its own process,
 * Prometheus scraping it, two backend processes under customer load — for a slice that names
 * approvers: the run waits before its first traffic step, `ferry status` says so, an approval
 * by someone else (the cluster says who: SelfSubjectReview) is refused, the named approver's
 * lets the judged ramp go on to 100 %.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { addLabUser } from '../../../src/lab/lab-users.js';
import { BOUTIQUE, ferryAsync, startFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { driveLoad, startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from '../analysis/helpers.js';
import { ROUTER_AS_COMPONENT, startRouterProcess, type RouterProcess } from '../traffic/helpers.js';

const SCRAPE_MS = 500;
let lab: TestLab;
let source: LabBackend;
let target: LabBackend;
let router: RouterProcess;
let prometheus: PrometheusProcess;
let pool: Pool;
let stateDir: string;

before(async () => {
  lab = await startTestLab(['target']);
  stateDir = join(lab.dir, 'state');
  [source, target] = await Promise.all([startLabBackend('source', ['--error-rate', '0']), startLabBackend('target', ['--error-rate', '0'])]);
  router = await startRouterProcess({
    backends: { source: { url: source.url }, target: { url: target.url } },
    routes: [{ name: 'ads', match: { pathPrefix: '/' }, source: 'source', target: 'target', weight: 0 }],
  }, undefined, ROUTER_AS_COMPONENT);
  prometheus = await startPrometheus(new URL(router.adminUrl).host, SCRAPE_MS);
  pool = new Pool(router.url, { connections: 8 });
});

after(async () => {
  await pool?.close();
  await prometheus?.stop();
  await router?.stop();
  await Promise.all([source?.kill(), target?.kill()]);
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--state-dir', stateDir]);

async function writePlan(): Promise<string> {
  const planned = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '--name', 'ads', '-o', 'json']);
  const plan = JSON.parse(planned.stdout);
  const slice = plan.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'adservice');
  plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], approvers: ['alice'], traffic: { provider: { type: 'router', adminUrl: router.adminUrl, route: 'ads' } } }] }];
  plan.spec.metrics = { provider: 'prometheus', url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` };
  plan.spec.defaults.traffic.steps = [50, 100];
  plan.spec.defaults.traffic.stepWindow = '3s';
  plan.spec.defaults.traffic.mirror.percent = 0;
  plan.spec.defaults.gates.minRequests = 20;
  plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
  plan.spec.defaults.decommission.after = '0s';
  plan.spec.defaults.rollback.keepSourceFor = '0s';
  const file = join(lab.dir, 'ads-plan.json');
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

test('a slice with approvers waits for one of them before any traffic moves, then ramps to 100 %', async () => {
  const plan = await writePlan();
  let stop = false;
  const failures: string[] = [];
  const send = async () => {
    try {
      const response = await pool.request({ method: 'GET', path: '/' });
      const body = await response.body.text();
      if (response.statusCode >= 500) failures.push(`${response.statusCode} ${body.slice(0, 120)}`);
      return response.statusCode;
    } catch (error) {
      failures.push(String((error as Error).message));
      throw error;
    }
  };
  const load = driveLoad(send, 100, 90_000, () => stop);

  const running = startFerry(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir, '-o', 'json'], { FERRY_ROUTER_TOKEN: router.token });
  try {
    const deadline = Date.now() + 60_000;
    while (!/waiting for alice/.test(running.stderr) && Date.now() < deadline && running.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.match(running.stderr, /adservice: approval .*waiting for alice: ferry approve \S+ adservice/);
    const run = readdirSync(join(stateDir, 'runs'))[0]!;

    const waiting = JSON.parse((await ferry(['status', run, '-o', 'json'])).stdout);
    assert.equal(waiting.status, 'waiting-approval');
    assert.deepEqual(waiting.awaitingApproval, ['adservice']);
    const route = (await (await fetch(`${router.adminUrl}/routes/ads`)).json()) as { weights: { target: number } };
    assert.equal(route.weights.target, 0, 'no traffic moved before the approval');

    const mallory = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'mallory' });
    const stranger = await ferry(['approve', run, 'adservice', '--kubeconfig', lab.kubeconfigFile, '--context', mallory.context, '--as', 'mallory']);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /^error: mallory \(context "mallory@target"\) is not an approver of slice adservice \(fix: ask one of: alice /m);

    const alice = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'alice' });
    const approved = await ferry(['approve', run, 'adservice', '--kubeconfig', lab.kubeconfigFile, '--context', alice.context]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(await running.closed, 0, running.stderr);
    const state = JSON.parse(running.stdout);
    assert.equal(state.status, 'completed');
    assert.deepEqual(state.approvals.map((a: any) => a.by), ['alice']);

    const records = readFileSync(join(stateDir, 'runs', run, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const at = (predicate: (r: any) => boolean) => records.findIndex(predicate);
    const approvedAt = at((r) => r.type === 'approved');
    assert.equal(records[approvedAt].actor, 'alice');
    assert.ok(approvedAt < at((r) => r.type === 'stage-started' && r.data?.stage === 'ramp'), 'approved before the ramp started');
    assert.match(running.stderr, /adservice: ramp 50%/);
    assert.match(running.stderr, /adservice: ramp 100%/);
  } finally {
    stop = true;
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
  const users = await load;
  assert.equal(users.failed, 0, `${users.failed} of ${users.requests} customer requests failed: ${failures.slice(0, 5).join('; ')}`);
});
