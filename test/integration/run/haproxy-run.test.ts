/**
 * `ferry run` through real HAProxy, judged from HAProxy's own exporter through a real
 * Prometheus: a plan generated with `ferry plan --traffic haproxy --prometheus …` (narrowed to
 * the edge slice), a lab target cluster, two backend processes behind HAProxy under bounded
 * customer load. A healthy target reaches 100 % (read back from HAProxy's runtime API) with
 * no failed request; a target that starts answering 5xx mid-step is back at weight 0 within
 * 2 s of the fault, and the journal keeps detection and recovery times; a latency gate, which
 * HAProxy 2.6's exporter cannot feed, is never passed silently.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { runtimeCommand } from '../../../src/traffic/haproxy.js';
import { BOUTIQUE, startFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { driveLoad, startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from '../analysis/helpers.js';
import { freePort, startProgram } from '../traffic/helpers.js';
import { generatedPlan, readOnlyJournal, sleep, waitFor, type JournalLine } from './ramp-helpers.js';

// The judge cannot see a fault before Prometheus has scraped it: at a 500 ms scrape interval
// the fault → weight 0 time measured 0.6–1.0 s here (250 ms: 0.3 s).
const SCRAPE_MS = 500;
const BACKEND = 'frontend'; // `ferry plan` names the HAProxy backend after the slice
const RATE = 200;

let lab: TestLab;
let source: LabBackend;
let target: LabBackend;
let haproxy: Awaited<ReturnType<typeof startProgram>>;
let prometheus: PrometheusProcess;
let socket: string;
let stateFile: string;
let url: string;

before(async () => {
  lab = await startTestLab(['target']);
  [source, target] = await Promise.all([startLabBackend('source', ['--error-rate', '0', '--seed', '21']), startLabBackend('target', ['--error-rate', '0', '--seed', '22'])]);
  const port = await freePort();
  const metricsPort = await freePort();
  socket = join(lab.dir, 'haproxy.sock');
  stateFile = join(lab.dir, 'haproxy-server-state');
  const config = join(lab.dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
    stats socket ${socket} mode 600 level admin
    server-state-file ${stateFile}
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    load-server-state-from-file global
frontend shop
    bind 127.0.0.1:${port}
    default_backend ${BACKEND}
frontend exporter
    bind 127.0.0.1:${metricsPort}
    http-request use-service prometheus-exporter if { path /metrics }
backend ${BACKEND}
    balance roundrobin
    server source ${new URL(source.url).host} weight 100
    server target ${new URL(target.url).host} weight 0
`,
  );
  haproxy = await startProgram('/usr/sbin/haproxy', ['-db', '-f', config], async () => existsSync(socket) && (await runtimeCommand(socket, 'show info')).includes('Name: HAProxy'), 'haproxy');
  url = `http://127.0.0.1:${port}`;
  prometheus = await startPrometheus([{ job: 'haproxy', targets: [`127.0.0.1:${metricsPort}`], metricsPath: '/metrics' }], SCRAPE_MS);
});

after(async () => {
  await prometheus?.stop();
  await haproxy?.stop();
  await Promise.all([source?.kill(), target?.kill()]);
  await lab?.stop();
});

/** The target server's weight as HAProxy itself reports it. */
async function targetWeight(): Promise<number> {
  const answer = await runtimeCommand(socket, `get weight ${BACKEND}/target`);
  const match = /^(\d+) \(initial/.exec(answer.trim());
  if (!match) throw new Error(`HAProxy: ${answer}`);
  return Number(match[1]);
}

/** Every run starts from the source taking everything and a healthy target. */
async function reset(): Promise<void> {
  await runtimeCommand(socket, `set server ${BACKEND}/source weight 100`);
  await runtimeCommand(socket, `set server ${BACKEND}/target weight 0`);
  await target.set({ errorRate: 0 });
}

async function writePlan(name: string, edit: (plan: any, slice: any) => void): Promise<string> {
  const plan = await generatedPlan(
    ['--manifests', BOUTIQUE, '--to', 'target', '--name', name, '--traffic', 'haproxy', '--haproxy-socket', socket, '--haproxy-state-file', stateFile, '--prometheus', prometheus.url, '--scrape-interval', `${SCRAPE_MS}ms`],
    BACKEND,
    (plan, slice) => {
      assert.deepEqual(slice.traffic.provider, { type: 'haproxy', socket, backend: BACKEND, sourceServer: 'source', targetServer: 'target', serverStateFile: stateFile });
      assert.equal(plan.spec.defaults.gates.latency, undefined, 'ferry plan leaves the latency gate out over HAProxy');
      plan.spec.defaults.decommission.after = '0s';
      plan.spec.defaults.rollback.keepSourceFor = '0s';
      plan.spec.defaults.gates.minRequests = 20;
      edit(plan, slice);
    },
  );
  const file = join(lab.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

interface Customers {
  done: Promise<{ requests: number; failed: number; durationMs: number }>;
  failures: string[];
  stop(): void;
}

/** Bounded customer load through HAProxy's frontend: RATE req/s for at most `durationMs`. */
function customers(durationMs: number): Customers {
  const pool = new Pool(url, { connections: 16 });
  const failures: string[] = [];
  let stopped = false;
  const send = async () => {
    try {
      const response = await pool.request({ method: 'GET', path: '/' });
      const body = await response.body.text();
      if (response.statusCode >= 500) failures.push(`${response.statusCode} ${body.slice(0, 80)}`);
      return response.statusCode;
    } catch (error) {
      failures.push((error as Error).message);
      throw error;
    }
  };
  const done = driveLoad(send, RATE, durationMs, () => stopped).finally(() => pool.close());
  return { done, failures, stop: () => (stopped = true) };
}

function ferryRun(plan: string, stateDir: string) {
  return startFerry(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir, '-o', 'json']);
}

const index = (records: JournalLine[], predicate: (record: JournalLine) => boolean) => {
  const at = records.findIndex(predicate);
  assert.notEqual(at, -1, 'journal record missing');
  return at;
};

test('a healthy target is ramped through HAProxy to 100 %, judged from its exporter, with no failed request', async () => {
  await reset();
  const plan = await writePlan('haproxy-healthy', (plan) => {
    plan.spec.defaults.traffic.steps = [50, 100];
    plan.spec.defaults.traffic.stepWindow = '5s';
    // The generated 1 % / 0.5-point error budget takes thousands of requests to prove; a 5 %
    // budget can be proven within a few seconds at this rate, so the steps pass on evidence.
    plan.spec.defaults.gates.errorRate = { max: 0.05, maxIncrease: 0.05 };
    plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
  });
  const stateDir = join(lab.dir, 'state-healthy');
  const load = customers(90_000);
  const started = Date.now();
  const running = ferryRun(plan, stateDir);
  let code: number | null;
  try {
    code = await running.closed;
  } finally {
    load.stop();
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
  const runMs = Date.now() - started;
  const users = await load.done;
  assert.equal(code, 0, running.stderr);
  assert.equal(JSON.parse(running.stdout).status, 'completed');
  assert.equal(await targetWeight(), 100, 'HAProxy serves everything from the target');
  assert.equal(Number((await runtimeCommand(socket, `get weight ${BACKEND}/source`)).split(' ')[0]), 0);

  const records = readOnlyJournal(stateDir);
  const weights = records.filter((r) => r.type === 'weight-set').map((r) => r.data.weight);
  assert.deepEqual(weights, [50, 100]);
  const passed = records.filter((r) => r.type === 'ramp-step-passed').map((r) => r.data.weight);
  const ramp = records.find((r) => r.type === 'stage-completed' && r.data.stage === 'ramp');
  assert.ok(ramp, 'the ramp completed');
  assert.ok(index(records, (r) => r.type === 'stage-completed' && r.data.stage === 'ramp') < index(records, (r) => r.type === 'run-completed'));
  process.stdout.write(`# haproxy healthy: run ${(runMs / 1000).toFixed(1)} s, steps passed by the judge ${JSON.stringify(passed)} of [50,100], customers ${users.requests} requests, ${users.failed} failed\n`);
  assert.equal(users.failed, 0, `${users.failed} of ${users.requests} customer requests failed: ${load.failures.slice(0, 5).join('; ')}`);
  assert.ok(users.requests > RATE * 5, `customers sent ${users.requests} requests`);
});

test('a target that starts failing mid-step is back at weight 0 within 2 s of the fault, with detection and recovery journaled', async () => {
  await reset();
  const plan = await writePlan('haproxy-bad', (plan) => {
    plan.spec.defaults.traffic.steps = [50, 100];
    plan.spec.defaults.traffic.stepWindow = '30s';
  });
  const stateDir = join(lab.dir, 'state-bad');
  const load = customers(90_000);
  const started = Date.now();
  const running = ferryRun(plan, stateDir);
  let onset = 0;
  let weightZero = 0;
  let code: number | null;
  try {
    await waitFor('the first step at 50 %', async () => ((await targetWeight()) === 50 ? true : undefined), 60_000, 50);
    await sleep(3000); // healthy traffic at 50 % first
    onset = await target.set({ errorRate: 0.5 });
    weightZero = await waitFor('weight 0 after the fault', async () => ((await targetWeight()) === 0 ? Date.now() : undefined), 20_000, 10);
    code = await running.closed;
  } finally {
    load.stop();
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
  const runMs = Date.now() - started;
  const users = await load.done;
  assert.equal(code, 1, 'the run stops failed after the rollback');
  assert.match(JSON.parse(running.stdout).error ?? '', /slice frontend failed its gates at 50% and was rolled back to 0/);

  const records = readOnlyJournal(stateDir);
  const rolledBack = records.find((r) => r.type === 'rolled-back')!;
  assert.ok(rolledBack, 'journal has a rolled-back record');
  const { detectionMs, recoveryMs, onsetAt, detectedAt, weightZeroAt, decision, weightBefore } = rolledBack.data;
  assert.equal(decision, 'fail');
  assert.equal(weightBefore, 50);
  assert.equal(typeof detectionMs, 'number');
  assert.equal(typeof recoveryMs, 'number');
  assert.equal(detectionMs, detectedAt - onsetAt);
  assert.equal(recoveryMs, weightZeroAt - detectedAt);
  assert.ok(recoveryMs >= 0 && recoveryMs < 500, `weight 0 read back ${recoveryMs} ms after detection`);
  const errorGate = rolledBack.data.evidence.gates.find((gate: any) => gate.verdict === 'fail');
  assert.match(errorGate?.gate ?? '', /^errorRate/);
  // After the ramp's rollback, rollback.onFailure: automatic takes the slice back.
  assert.ok(index(records, (r) => r.type === 'rolled-back') < index(records, (r) => r.type === 'rollback-slice' && r.data.reason === 'automatic'));

  const observed = weightZero - onset;
  process.stdout.write(
    `# haproxy bad target (50 % errors at 50 %): fault → HAProxy weight 0 read back ${observed} ms; journal: onset estimate ${onsetAt - onset} ms after the fault, detection ${detectionMs} ms, recovery ${recoveryMs} ms, weightZeroAt ${weightZeroAt - onset} ms after the fault; run ${(runMs / 1000).toFixed(1)} s; customers ${users.failed} of ${users.requests} failed\n`,
  );
  assert.ok(observed < 2000, `weight 0 read back ${observed} ms after the fault (limit 2000 ms)`);
  assert.ok(weightZeroAt - onset < 2000, `journal: weight 0 ${weightZeroAt - onset} ms after the fault`);
  assert.equal(await targetWeight(), 0);
});

test('a latency gate over HAProxy is never passed silently: the step is inconclusive and the evidence says why', async () => {
  await reset();
  const plan = await writePlan('haproxy-latency', (plan) => {
    plan.spec.defaults.traffic.steps = [50, 100];
    plan.spec.defaults.traffic.stepWindow = '3s';
    plan.spec.defaults.gates.latency = [{ percentile: 99, maxIncrease: 0.5 }];
    plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'rollback', maxExtensions: 0 };
  });
  const stateDir = join(lab.dir, 'state-latency');
  const load = customers(60_000);
  const running = ferryRun(plan, stateDir);
  let code: number | null;
  try {
    code = await running.closed;
  } finally {
    load.stop();
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
  const users = await load.done;
  assert.equal(code, 1, running.stderr);
  const records = readOnlyJournal(stateDir);
  assert.equal(records.filter((r) => r.type === 'ramp-step-passed').length, 0, 'no step passed');
  const rolledBack = records.find((r) => r.type === 'rolled-back');
  assert.ok(rolledBack, 'rolled back on the inconclusive step');
  assert.equal(rolledBack.data.decision, 'inconclusive');
  assert.equal(rolledBack.data.weightBefore, 50);
  const latency = rolledBack.data.evidence.gates.find((gate: any) => gate.gate.startsWith('latency'));
  assert.equal(latency?.verdict, 'inconclusive');
  assert.match(latency?.reason ?? '', /^no latencies: HAProxy 2\.6's exporter has no latency histogram per server/);
  assert.equal(await targetWeight(), 0);
  assert.equal(users.failed, 0, load.failures.slice(0, 5).join('; '));
});
