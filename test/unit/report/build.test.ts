import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlan } from '../../../src/plan/load.js';
import { buildRunReport } from '../../../src/report/build.js';
import { deriveRunState } from '../../../src/run/state.js';
import { renderReportMarkdown } from '../../../src/report/markdown.js';
import { renderReportHtml } from '../../../src/report/html.js';
import type { JournalRecord } from '../../../src/journal/record.js';
import type { VerifyResult } from '../../../src/journal/verify.js';
import { toYamlText } from '../../../src/util/output.js';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');

const { plan } = parsePlan(toYamlText({
  apiVersion: 'ferry.dev/v1alpha1',
  kind: 'MigrationPlan',
  metadata: { name: 'shop' },
  spec: {
    source: { context: 'source' },
    target: { context: 'target' },
    defaults: { traffic: { steps: [50, 100], stepWindow: '2s' }, gates: {}, analysis: {}, rollback: {}, decommission: { after: '1s' } },
    waves: [
      { name: 'wave-1', slices: [{ name: 'web', namespace: 'shop', workloads: [], resources: [], traffic: { provider: { type: 'router', adminUrl: 'http://127.0.0.1:1', route: 'web' } } }], crossClusterCalls: [{ from: 'web', to: 'db', direction: 'target→source', via: ['Deployment/shop/web → Service/shop/db'] }] },
      { name: 'wave-2', slices: [{ name: 'db', namespace: 'shop', workloads: [], resources: [], traffic: { provider: 'none' } }] },
    ],
  },
}), 'plan.yaml');

/** A journal as the engine writes it: `at` in ms after T0. Hash and MAC are not the report's business (verify is). */
function journal(entries: Array<[number, string, Record<string, unknown>]>): JournalRecord[] {
  return entries.map(([ms, type, data], i) => ({ seq: i + 1, at: new Date(T0 + ms).toISOString(), type, actor: 'ferry', data, prev: '', hash: '' }));
}

const sample = (slice: string, fromMs: number, toMs: number, weight: number, target: [number, number, number?], source: [number, number, number?], lag?: number) => ({
  slice, weight, from: new Date(T0 + fromMs).toISOString(), to: new Date(T0 + toMs).toISOString(),
  target: { requests: target[0], errors: target[1], ...(target[2] !== undefined ? { p50Ms: 1, p99Ms: target[2] } : {}) },
  source: { requests: source[0], errors: source[1], ...(source[2] !== undefined ? { p50Ms: 1, p99Ms: source[2] } : {}) },
  ...(lag !== undefined ? { replicationLagMs: lag } : {}),
});

const stage = (slice: string, name: string, startMs: number, endMs: number, result: Record<string, unknown> = {}): Array<[number, string, Record<string, unknown>]> => [
  [startMs, 'stage-started', { slice, stage: name }],
  [endMs, 'stage-completed', { slice, stage: name, ...result }],
];

/** web ramps to 50 %, fails its gates (rolled back, then automatically taken back); resumed, it completes. */
const rolledBackThenCompleted = journal([
  [0, 'run-started', { plan: 'shop', run: 'r1' }],
  ...stage('web', 'apply', 100, 1100, { applied: 3 }),
  [1100, 'stage-skipped', { slice: 'web', stage: 'data-sync', reason: 'no data' }],
  [1200, 'stage-started', { slice: 'web', stage: 'ramp' }],
  [1300, 'weight-set', { slice: 'web', weight: 50 }],
  [2300, 'ramp-sample', sample('web', 1300, 2300, 50, [50, 0, 12], [50, 0, 10])],
  [3300, 'ramp-sample', sample('web', 2300, 3300, 50, [50, 20, 80], [50, 0, 10])],
  [3500, 'rolled-back', { slice: 'web', onsetAt: T0 + 2300, detectedAt: T0 + 3400, weightZeroAt: T0 + 3480, weightBefore: 50, step: 0, decision: 'fail', detectionMs: 1100, recoveryMs: 80, evidence: { gates: [{ gate: 'errorRate', verdict: 'fail', reason: '40 % errors' }, { gate: 'latency', verdict: 'pass', reason: 'ok' }] } }],
  [3600, 'stage-failed', { slice: 'web', stage: 'ramp', error: 'slice web failed its gates at 50% and was rolled back to 0' }],
  [4600, 'rollback-slice', { slice: 'web', reason: 'automatic', error: 'slice web failed its gates', detectedAt: new Date(T0 + 3600).toISOString(), sourceReadyMs: 10, recoveryMs: 200, weight: 0 }],
  [4700, 'run-failed', { run: 'r1', error: 'slice web failed its gates' }],
  [10_000, 'run-resumed', { plan: 'shop', run: 'r1' }],
  ...stage('web', 'apply', 10_100, 10_600),
  [10_700, 'stage-started', { slice: 'web', stage: 'ramp' }],
  [10_800, 'weight-set', { slice: 'web', weight: 50 }],
  [11_800, 'ramp-sample', sample('web', 10_800, 11_800, 50, [40, 0, 11], [60, 1, 9])],
  [12_800, 'weight-set', { slice: 'web', weight: 100 }],
  [13_800, 'ramp-sample', sample('web', 12_800, 13_800, 100, [100, 0, 12], [0, 0])],
  [14_800, 'stage-completed', { slice: 'web', stage: 'ramp', steps: 2 }],
  ...stage('web', 'soak', 14_900, 15_900, { soakMs: 1000 }),
  [16_000, 'stage-started', { slice: 'db', stage: 'data-sync' }],
  [16_500, 'lag-sample', { slice: 'db', replicationLagMs: 250, tablesReady: 1, tables: 2 }],
  [17_000, 'stage-completed', { slice: 'db', stage: 'data-sync' }],
  [17_100, 'stage-started', { slice: 'db', stage: 'parity' }],
  [17_600, 'stage-failed', { slice: 'db', stage: 'parity', error: 'data parity failed: 3 row(s) differ (orders 7 changed)', rows: 1200, differences: 3, transientDifferences: 0 }],
  ...stage('db', 'parity', 18_000, 18_500, { rows: 1000, rowsPerSecond: 2000, queries: 4, differences: 0, transientDifferences: 2 }),
  ...stage('db', 'data-cutover', 18_600, 19_000, { writePauseMs: 120, maxWritePauseMs: 1000, givenBack: 1, finalParity: { ok: true, rows: 1000, differences: 0, transientDifferences: 0 } }),
  [19_500, 'run-completed', { run: 'r1' }],
]);

test('a run rolled back by its gates, then resumed to completion: MTTD/MTTR from the journal times, one failure, every stage timed', () => {
  const report = buildRunReport({ runId: 'r1', plan, records: rolledBackThenCompleted });
  assert.equal(report.run.status, 'completed');
  assert.equal(report.run.finished, true);
  assert.equal(report.run.durationMs, 19_500);
  const { scorecard } = report;
  assert.equal(scorecard.failures.length, 1, 'the automatic slice rollback after the gate rollback is the same failure');
  const [failure] = scorecard.failures;
  assert.equal(failure!.kind, 'gate');
  assert.equal(failure!.mttdMs, 1100);
  assert.equal(failure!.mttrMs, 80);
  assert.deepEqual(failure!.gates, [{ gate: 'errorRate', verdict: 'fail', reason: '40 % errors' }]);
  assert.deepEqual(failure!.followedBy, { kind: 'automatic', at: T0 + 4600, recoveryMs: 200, sourceReadyMs: 10 });
  assert.deepEqual(scorecard.mttdMs, { mean: 1100, min: 1100, max: 1100, count: 1 });
  assert.deepEqual(scorecard.mttrMs, { mean: 80, min: 80, max: 80, count: 1 });
  assert.deepEqual(scorecard.failedRequests, { target: 20, source: 1, requests: { target: 240, source: 160 }, samples: 4 });

  const web = report.waves[0]!.slices[0]!;
  assert.deepEqual(web.weights.map((w) => [w.at - T0, w.weight, w.record]), [
    [1300, 50, 'weight-set'], [3480, 0, 'rolled-back'], [3800, 0, 'rollback-slice'], [10_800, 50, 'weight-set'], [12_800, 100, 'weight-set'],
  ]);
  assert.deepEqual(web.stages.map((s) => [s.stage, s.result, s.durationMs]), [
    ['apply', 'completed', 1000], ['data-sync', 'skipped', 0], ['ramp', 'failed', 2400], ['apply', 'completed', 500], ['ramp', 'completed', 4100], ['soak', 'completed', 1000],
  ]);
  assert.equal(web.stages[0]!.detail, 'applied=3');
  assert.deepEqual(web.planned, { steps: [50, 100], stepWindowMs: 2000, soakMs: 1000, traffic: true });

  // The window starts at the first weight-set (1.3 s) and lasts 2 × 2 s: the plan had 50 % then 100 %; the run had 50 % for 2.18 s, then 0.
  const share = scorecard.targetShare!.slices[0]!;
  assert.equal(share.windowStart, T0 + 1300);
  assert.equal(share.windowEnd, T0 + 5300);
  assert.equal(share.plannedShare, 0.75);
  assert.ok(Math.abs(share.weightShare - (0.5 * 2180) / 4000) < 1e-9, String(share.weightShare));
  assert.equal(share.requestShare, 0.5);
  assert.equal(share.fullInWindow, false);
  assert.equal(share.fullAt, T0 + 12_800);
  assert.equal(scorecard.targetShare!.overall.fullInWindow, 0);

  assert.deepEqual(scorecard.parity.checks.map((c) => [c.check, c.ok, c.differences, c.transientDifferences]), [
    ['parity-stage', false, 3, 0], ['parity-stage', true, 0, 2], ['cutover-final', true, 0, 0],
  ]);
  assert.deepEqual([scorecard.parity.found, scorecard.parity.repaired, scorecard.parity.outstanding], [5, 5, 0]);
  assert.deepEqual(report.waves[1]!.slices[0]!.lag, [{ at: T0 + 16_500, lagMs: 250, during: 'data-sync' }]);
  assert.deepEqual(scorecard.writePauses, [{ slice: 'db', at: T0 + 19_000, kind: 'cutover', writePauseMs: 120, maxWritePauseMs: 1000, givenBack: 1 }]);
  assert.deepEqual(scorecard.stageDurations.find((s) => s.stage === 'apply'), { stage: 'apply', attempts: 2, totalMs: 1500, maxMs: 1000, meanMs: 750 });
  assert.deepEqual(report.journal, { checked: false, ok: false, records: rolledBackThenCompleted.length });
  assert.deepEqual([report.waves[0]!.startedAt, report.waves[0]!.endedAt, report.waves[1]!.startedAt], [T0 + 100, T0 + 15_900, T0 + 16_000]);
  assert.deepEqual(report.waves[0]!.crossClusterCalls, [{ from: 'web', to: 'db', direction: 'target→source' }]);
  assert.match(renderReportMarkdown(report), /Calls crossing clusters once it has moved: web → db \(target→source\)/);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'JSON-able');
});

test('a run without a ramp: no request numbers, no share, the data numbers still there', () => {
  const records = journal([
    [0, 'run-started', { plan: 'shop', run: 'r2' }],
    [50, 'stage-skipped', { slice: 'web', stage: 'ramp', reason: 'no traffic' }],
    ...stage('db', 'data-cutover', 100, 400, { writePauseMs: 90, maxWritePauseMs: 1000, givenBack: 0 }),
    [500, 'run-completed', { run: 'r2' }],
  ]);
  const report = buildRunReport({ runId: 'r2', plan, records });
  assert.equal(report.scorecard.failedRequests, null);
  assert.equal(report.scorecard.targetShare, null);
  assert.equal(report.scorecard.mttdMs, null);
  assert.equal(report.scorecard.mttrMs, null);
  assert.equal(report.scorecard.writePauses[0]!.writePauseMs, 90);
  const md = renderReportMarkdown(report);
  assert.match(md, /failed user requests \| no ramp samples/i);
  const html = renderReportHtml(report);
  assert.match(html, /^<!doctype html>/);
});

test('an unfinished run: the running stage has no end, the share covers up to the last record', () => {
  const records = journal([
    [0, 'run-started', { plan: 'shop', run: 'r3' }],
    [100, 'stage-started', { slice: 'web', stage: 'ramp' }],
    [1000, 'weight-set', { slice: 'web', weight: 50 }],
    [2000, 'ramp-sample', sample('web', 1000, 2000, 50, [10, 0, 5], [10, 0, 5], 40)],
  ]);
  const report = buildRunReport({ runId: 'r3', plan, records });
  assert.equal(report.run.status, 'running');
  assert.equal(report.run.finished, false);
  assert.equal(report.run.endedAt, undefined);
  assert.equal(report.run.durationMs, 2000);
  const ramp = report.waves[0]!.slices[0]!.stages[0]!;
  assert.deepEqual([ramp.stage, ramp.result, ramp.endedAt, ramp.durationMs], ['ramp', 'running', undefined, undefined]);
  const share = report.scorecard.targetShare!.slices[0]!;
  assert.equal(share.complete, false);
  assert.equal(share.plannedShare, 0.5, 'one second of the first step: the plan had 50 %');
  assert.equal(share.weightShare, 0.5);
  assert.equal(report.waves[0]!.slices[0]!.samples[0]!.replicationLagMs, 40);
  assert.deepEqual(report.waves[0]!.slices[0]!.lag, [{ at: T0 + 2000, lagMs: 40, during: 'ramp' }]);
});

test('a failed run resumed: no end until it ends again, its time and timelines run on past the first failure', () => {
  const entries: Array<[number, string, Record<string, unknown>]> = [
    [0, 'run-started', { plan: 'shop', run: 'r5' }],
    [100, 'stage-started', { slice: 'web', stage: 'ramp' }],
    [200, 'weight-set', { slice: 'web', weight: 50 }],
    [1000, 'stage-failed', { slice: 'web', stage: 'ramp', error: 'router unreachable' }],
    [1100, 'run-failed', { run: 'r5', error: 'router unreachable' }],
    [5000, 'run-resumed', { plan: 'shop', run: 'r5' }],
    [5100, 'stage-started', { slice: 'web', stage: 'ramp' }],
    [5200, 'weight-set', { slice: 'web', weight: 50 }],
    [6200, 'ramp-sample', sample('web', 5200, 6200, 50, [10, 0, 5], [10, 0, 5])],
  ];
  const resumed = buildRunReport({ runId: 'r5', plan, records: journal(entries) });
  assert.equal(deriveRunState('r5', plan, journal(entries)).endedAt, undefined, 'the resume clears the failed end');
  assert.equal(resumed.run.status, 'running');
  assert.equal(resumed.run.finished, false);
  assert.equal(resumed.run.endedAt, undefined, 'the charts end at the last record, not at the first failure');
  assert.equal(resumed.run.lastRecordAt, T0 + 6200);
  assert.equal(resumed.run.durationMs, 6200);
  assert.equal(resumed.run.error, undefined);
  assert.equal(resumed.waves[0]!.slices[0]!.samples.length, 1);

  const failedAgain = buildRunReport({ runId: 'r5', plan, records: journal([...entries, [7000, 'run-failed', { run: 'r5', error: 'router unreachable again' }]]) });
  assert.equal(failedAgain.run.status, 'failed');
  assert.equal(failedAgain.run.finished, true);
  assert.equal(failedAgain.run.endedAt, T0 + 7000);
  assert.equal(failedAgain.run.durationMs, 7000);
  assert.equal(failedAgain.run.error, 'router unreachable again');
});

test('several failures: gate rollbacks averaged, an automatic one after a failed stage has no MTTD, ferry rollback listed but not averaged', () => {
  const records = journal([
    [0, 'run-started', { plan: 'shop', run: 'r4' }],
    [100, 'weight-set', { slice: 'web', weight: 50 }],
    [1000, 'rolled-back', { slice: 'web', onsetAt: T0 + 500, detectedAt: T0 + 900, weightZeroAt: T0 + 1000, weightBefore: 50, step: 0 }],
    [1100, 'stage-failed', { slice: 'web', stage: 'ramp', error: 'rolled back' }],
    [1200, 'run-failed', { run: 'r4', error: 'x' }],
    [2000, 'run-resumed', { run: 'r4' }],
    [2100, 'weight-set', { slice: 'web', weight: 50 }],
    [3000, 'rolled-back', { slice: 'web', onsetAt: T0 + 2200, detectedAt: T0 + 2500, weightZeroAt: T0 + 2800, weightBefore: 50, step: 0 }],
    [3100, 'stage-failed', { slice: 'web', stage: 'ramp', error: 'rolled back' }],
    [3200, 'run-failed', { run: 'r4', error: 'x' }],
    [4000, 'run-resumed', { run: 'r4' }],
    [4100, 'stage-started', { slice: 'db', stage: 'data-cutover' }],
    [4200, 'stage-failed', { slice: 'db', stage: 'data-cutover', error: 'lock timeout' }],
    [4500, 'rollback-slice', { slice: 'db', reason: 'automatic', error: 'lock timeout', detectedAt: new Date(T0 + 4200).toISOString(), sourceReadyMs: 0, recoveryMs: 60, failback: { writePauseMs: 30, alreadyDone: false } }],
    [4600, 'run-failed', { run: 'r4', error: 'lock timeout' }],
    [5000, 'rollback-started', { run: 'r4' }],
    [5400, 'rollback-slice', { slice: 'web', reason: 'requested', detectedAt: new Date(T0 + 5000).toISOString(), sourceReadyMs: 5, recoveryMs: 300 }],
    [5450, 'bridge-failed', { slice: 'web', error: 'forbidden' }],
    [5500, 'rollback-completed', { run: 'r4', slices: ['web'] }],
  ]);
  const report = buildRunReport({ runId: 'r4', plan, records });
  assert.equal(report.run.status, 'rolled-back');
  assert.deepEqual(report.scorecard.failures.map((f) => [f.slice, f.kind, f.mttdMs, f.mttrMs]), [
    ['web', 'gate', 400, 100], ['web', 'gate', 300, 300], ['db', 'automatic', undefined, 60], ['web', 'requested', undefined, 300],
  ]);
  assert.deepEqual(report.scorecard.mttdMs, { mean: 350, min: 300, max: 400, count: 2 });
  assert.deepEqual(report.scorecard.mttrMs, { mean: (100 + 300 + 60) / 3, min: 60, max: 300, count: 3 });
  assert.equal(report.scorecard.failures[2]!.weightZeroAt, T0 + 4260);
  assert.deepEqual(report.scorecard.writePauses.map((p) => [p.kind, p.writePauseMs]), [['failback', 30]]);
  assert.deepEqual(report.bridgeProblems, [{ at: T0 + 5450, slice: 'web', error: 'forbidden' }]);
  const md = renderReportMarkdown(report);
  assert.match(md, /\| web \| gate \|/);
  assert.match(md, /## Cross-cluster bridges\n\nBridges that could not be changed: web at T\+5\.5 s: forbidden/);
  assert.match(md, /requested/);
});

test('a journal that does not verify: the report says where it broke', () => {
  const verify: VerifyResult = { ok: false, records: 3, lastHash: 'x', keyed: true, unkeyedRecords: 0, unanchored: 0, tornTail: false, brokenAt: { seq: 2, line: 2, reason: 'its MAC does not match' } };
  const report = buildRunReport({ runId: 'r1', plan, records: rolledBackThenCompleted, verify });
  assert.equal(report.journal.checked, true);
  assert.equal(report.journal.ok, false);
  assert.deepEqual(report.journal.brokenAt, { seq: 2, line: 2, reason: 'its MAC does not match' });
  assert.match(renderReportMarkdown(report), /TAMPERED.*record 2/);
  assert.match(renderReportHtml(report), /TAMPERED/);
});

test('the HTML is one self-contained file: uPlot inlined, no external reference, no way out of its script tags', () => {
  const records = [...rolledBackThenCompleted];
  records[3] = { ...records[3]!, data: { ...records[3]!.data, reason: '</script><script>alert(1)</script>' } };
  const html = renderReportHtml(buildRunReport({ runId: 'r1', plan, records }));
  assert.match(html, /uPlot/);
  // Nothing to fetch: no element loads a URL, and the page's policy forbids any connection.
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]+(src|href)=/i);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  assert.doesNotMatch(html, /<\/script><script>alert/);
  assert.deepEqual(unbalancedTags(html), [], 'every element closed, in order');
});

/** Elements opened and not closed in order (script and style bodies skipped; void elements need no end). */
function unbalancedTags(html: string): string[] {
  const text = html.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/gi, '<$1></$1>');
  const stack: string[] = [];
  const problems: string[] = [];
  for (const [, end, name] of text.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>/g)) {
    const tag = name!.toLowerCase();
    if (['meta', 'br', 'img', 'link', 'input', 'hr'].includes(tag)) continue;
    if (!end) stack.push(tag);
    else if (stack.pop() !== tag) problems.push(`</${tag}>`);
  }
  return [...problems, ...stack.map((tag) => `<${tag}> not closed`)];
}
