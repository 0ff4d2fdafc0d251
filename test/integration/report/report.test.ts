/**
 * `ferry report` of a real lab run with one induced rollback: the target starts failing at
 * 50 %, the judge rolls the weight back, rollback.onFailure takes the slice back. The report's
 * numbers are checked against the journal, and its HTML is opened in Chromium: the points the
 * plots drew are read back from uPlot and must be the journal's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ferryAsync } from '../../helpers/cli.js';
import { sleep, waitFor } from '../run/ramp-helpers.js';
import { startRunStage, type RunStage } from '../run/stage.js';

let stage: RunStage;
let stateDir: string;
let run: string;
let records: any[];

before(async () => {
  stage = await startRunStage();
  const plan = await stage.writePlan('report', (plan) => {
    plan.spec.defaults.traffic.steps = [25, 50, 100];
    plan.spec.defaults.traffic.stepWindow = '2s';
    // A budget a few seconds of 100 requests/s can prove either way.
    plan.spec.defaults.gates.errorRate = { max: 0.05, maxIncrease: 0.05 };
  });
  stateDir = join(stage.lab.dir, 'state-report');
  const users = stage.load({ rate: 100 });
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
  try {
    await waitFor('the first step at 50 %', async () => ((await stage.route()).weights?.target === 50 ? true : undefined), 90_000, 50);
    await sleep(1000); // healthy traffic at 25 % and for a moment at 50 % first
    await stage.target.set({ errorRate: 1 });
    assert.equal(await running.closed, 1, 'the run stops failed after the rollback');
  } finally {
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
    await users.stop();
    await stage.target.set({ errorRate: 0 });
  }
  run = readdirSync(join(stateDir, 'runs'))[0]!;
  records = stage.journal(stateDir, run);
});

after(async () => {
  await stage?.stop();
});

const report = (args: string[]) => ferryAsync(['report', run, '--state-dir', stateDir, ...args]);

test('-o json: MTTD and MTTR are the journal\'s onset, detection and weight-zero times; failed requests are the samples\' errors', async () => {
  const result = await report(['-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout);
  const rolledBack = records.find((r) => r.type === 'rolled-back');
  assert.ok(rolledBack, 'the run rolled back');
  const [failure] = json.scorecard.failures;
  assert.equal(json.scorecard.failures.length, 1, JSON.stringify(json.scorecard.failures));
  assert.equal(failure.kind, 'gate');
  assert.equal(failure.slice, 'adservice');
  assert.equal(failure.onsetAt, rolledBack.data.onsetAt);
  assert.equal(failure.detectedAt, rolledBack.data.detectedAt);
  assert.equal(failure.weightZeroAt, rolledBack.data.weightZeroAt);
  assert.equal(failure.mttdMs, rolledBack.data.detectedAt - rolledBack.data.onsetAt);
  assert.equal(failure.mttrMs, rolledBack.data.weightZeroAt - rolledBack.data.detectedAt);
  assert.equal(failure.followedBy?.kind, 'automatic', 'the automatic slice rollback is reported with the failure it followed');
  assert.deepEqual(json.scorecard.mttdMs, { mean: failure.mttdMs, min: failure.mttdMs, max: failure.mttdMs, count: 1 });
  assert.deepEqual(json.scorecard.mttrMs, { mean: failure.mttrMs, min: failure.mttrMs, max: failure.mttrMs, count: 1 });

  const samples = records.filter((r) => r.type === 'ramp-sample');
  assert.ok(samples.length > 0, 'the ramp was sampled');
  const sum = (side: string, key: string) => samples.reduce((n, r) => n + r.data[side][key], 0);
  assert.deepEqual(json.scorecard.failedRequests, { target: sum('target', 'errors'), source: sum('source', 'errors'), requests: { target: sum('target', 'requests'), source: sum('source', 'requests') }, samples: samples.length });
  assert.ok(json.scorecard.failedRequests.target > 0, 'the failing target\'s errors are counted');
  const failed = json.scorecard.failedRequests;
  process.stdout.write(`# report of ${run}: MTTD ${failure.mttdMs} ms, MTTR ${failure.mttrMs} ms; failed requests target ${failed.target}/${failed.requests.target}, source ${failed.source}/${failed.requests.source} over ${failed.samples} samples\n`);

  assert.equal(json.run.status, 'failed');
  assert.equal(json.journal.ok, true);
  assert.equal(json.journal.records, records.length);
  const share = json.scorecard.targetShare.slices[0];
  assert.equal(share.windowStart, Date.parse(records.find((r) => r.type === 'weight-set').at));
  assert.equal(share.plannedMs, 3 * 2000);
  assert.equal(share.fullInWindow, false);
  const stages = json.waves[0].slices[0].stages.map((s: any) => [s.stage, s.result]);
  assert.deepEqual(stages.filter(([, result]: string[]) => result !== 'skipped'), [['apply', 'completed'], ['ramp', 'failed']]);
});

test('-o html: one self-contained file that Chromium renders to PNG, its plotted points the journal\'s weights and samples', async () => {
  const file = join(stage.lab.dir, 'report.html');
  const result = await report(['-o', 'html', '--out', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /written to/);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) problems.push(`fetched ${request.url()}`);
    });
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => (window as any).ferryReport?.ready === true, undefined, { timeout: 10_000 });
    const png = join(stage.lab.dir, 'report.png');
    await page.screenshot({ path: png, fullPage: true });
    assert.ok(statSync(png).size > 10_000, 'a screenshot with something in it');
    assert.deepEqual(problems, []);
    process.stdout.write(`# report ${file} (${statSync(file).size} bytes), screenshot ${png}\n`);

    const charts: Array<{ slice: string; kind: string; data: Array<Array<number | null>>; canvas: boolean }> = await page.evaluate(() =>
      (window as any).ferryReport.charts.map((chart: any) => ({ slice: chart.slice, kind: chart.kind, data: chart.plot.data.map((series: any) => Array.from(series)), canvas: chart.plot.root.querySelector('canvas') !== null })));
    const chart = (kind: string) => {
      const found = charts.find((c) => c.slice === 'adservice' && c.kind === kind);
      assert.ok(found, `a ${kind} plot`);
      assert.ok(found.canvas, `the ${kind} plot is drawn`);
      return found.data;
    };
    // The weights: each weight-set record, and the 0 the rollbacks read back.
    const weights = [
      ...records.filter((r) => r.type === 'weight-set').map((r) => [Date.parse(r.at), r.data.weight]),
      ...records.filter((r) => r.type === 'rolled-back').map((r) => [r.data.weightZeroAt, 0]),
      ...records.filter((r) => r.type === 'rollback-slice' && r.data.weight === 0).map((r) => [Date.parse(r.data.detectedAt) + r.data.recoveryMs, 0]),
    ].sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(chart('weight'), [weights.map(([at]) => at! / 1000), weights.map(([, weight]) => weight)]);
    const samples = records.filter((r) => r.type === 'ramp-sample').map((r) => r.data);
    const x = samples.map((s) => Date.parse(s.to) / 1000);
    const rate = (side: any) => (side.requests > 0 ? (side.errors / side.requests) * 100 : null);
    assert.deepEqual(chart('errors'), [x, samples.map((s) => rate(s.target)), samples.map((s) => rate(s.source))]);
    assert.deepEqual(chart('latency'), [x, samples.map((s) => s.target.p99Ms ?? null), samples.map((s) => s.source.p99Ms ?? null)]);
    assert.ok(samples.some((s) => s.target.errors > 0), 'the plotted errors include the failure');
    // The rollback is marked: its times are in the page's data, under the plots.
    assert.ok(await page.locator('.legend').first().isVisible());
  } finally {
    await browser.close();
  }
});

test('-o md: the scorecard and the failure, for a pull request or an incident document', async () => {
  const result = await report(['-o', 'md']);
  assert.equal(result.code, 0, result.stderr);
  const rolledBack = records.find((r) => r.type === 'rolled-back');
  assert.match(result.stdout, new RegExp(`^# Ferry run report: ${run}`));
  assert.match(result.stdout, /\| adservice \| gate \|/);
  assert.ok(result.stdout.includes(`| MTTD (mean time to detect) | ${rolledBack.data.detectedAt - rolledBack.data.onsetAt} ms over 1 failure |`), result.stdout.slice(0, 1500));
  assert.match(result.stdout, /\| Journal \| intact: \d+ records, hash chain and MACs checked \|/);
});

test('an unknown run is named; a tampered journal still gets its report, under the verification failure, and exit code 1', async () => {
  const unknown = await ferryAsync(['report', 'no-such-run', '--state-dir', stateDir]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /no run "no-such-run"/);
  assert.doesNotMatch(unknown.stderr, / {4}at /, 'no stack trace');

  const journal = join(stateDir, 'runs', run, 'journal.jsonl');
  assert.ok(existsSync(journal));
  const lines = readFileSync(journal, 'utf8').split('\n');
  lines[1] = lines[1]!.replace('"apply"', '"applied"');
  writeFileSync(journal, lines.join('\n'));
  const tampered = await report(['-o', 'md']);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout, /> \*\*TAMPERED: the journal was changed at record 2/);
  assert.match(tampered.stderr, /TAMPERED/);
  assert.match(tampered.stdout, /\| adservice \| gate \|/, 'the rest of the report is still there');
});
