/**
 * Ferry's own metrics come from journal records alone: a journal replayed gives the values live
 * observation gave (records seen twice count once), and the shipped Grafana dashboard asks only
 * for series RunMetrics exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { JournalRecord } from '../../../src/journal/record.js';
import { RunMetrics } from '../../../src/server/metrics.js';

let seq = 0;
const t0 = Date.parse('2026-11-30T10:00:00Z');
function record(type: string, data: Record<string, unknown>, offsetMs = seq * 1000): JournalRecord {
  seq++;
  return { seq, at: new Date(t0 + offsetMs).toISOString(), type, actor: 'ferry', data, prev: '', hash: String(seq) };
}

/** A run with an approval, a rolled-back ramp (with samples) and an automatic slice rollback. */
function journal(): JournalRecord[] {
  seq = 0;
  return [
    record('run-started', { plan: 'shop', run: 'r1' }),
    record('stage-started', { slice: 'ads', stage: 'apply' }),
    record('stage-completed', { slice: 'ads', stage: 'apply', applied: 3 }),
    record('lag-sample', { slice: 'ads', replicationLagMs: 1500, tablesReady: 1, tables: 2 }),
    record('stage-skipped', { slice: 'ads', stage: 'data-sync', reason: 'no data' }),
    record('stage-completed', { slice: 'ads', stage: 'parity', rows: 500, differences: 0, transientDifferences: 3 }),
    record('stage-completed', { slice: 'ads', stage: 'data-cutover', writePauseMs: 420, finalParity: { ok: false, rows: 510, differences: 2, transientDifferences: 1 } }),
    record('approval-requested', { slice: 'ads', approvers: ['alice'] }),
    record('approved', { slice: 'ads' }),
    record('stage-started', { slice: 'ads', stage: 'ramp' }),
    record('weight-set', { slice: 'ads', weight: 10 }),
    record('ramp-sample', { slice: 'ads', weight: 10, from: '', to: '', target: { requests: 10, errors: 1, p50Ms: 4, p99Ms: 20 }, source: { requests: 90, errors: 0, p50Ms: 3, p99Ms: 12 }, replicationLagMs: 250 }),
    record('ramp-step-extended', { slice: 'ads', step: 0, extension: 1, open: [{ gate: 'errorRate', verdict: 'inconclusive', reason: 'few requests' }] }),
    record('ramp-sample', { slice: 'ads', weight: 10, from: '', to: '', target: { requests: 12, errors: 6, p99Ms: 40 }, source: { requests: 88, errors: 0, p99Ms: 11 } }),
    record('rolled-back', { slice: 'ads', step: 0, weightBefore: 10, decision: 'fail', evidence: { verdict: 'fail', gates: [{ gate: 'errorRate', verdict: 'fail', reason: 'x' }, { gate: 'latency', verdict: 'pass', reason: 'y' }] }, detectionMs: 1200, recoveryMs: 300 }),
    record('stage-failed', { slice: 'ads', stage: 'ramp', error: 'slice ads failed its gates' }),
    record('rollback-slice', { slice: 'ads', reason: 'automatic', recoveryMs: 4000, sourceReadyMs: 100 }),
    record('run-failed', { run: 'r1', error: 'x' }),
    record('notifications-undelivered', { receivers: [{ name: 'down', delivered: 0, undelivered: 7 }] }),
  ];
}

async function values(metrics: RunMetrics): Promise<Map<string, number>> {
  const all = new Map<string, number>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    for (const value of metric.values) {
      const labels = Object.entries(value.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${String(v)}`).join(',');
      all.set(`${(value as { metricName?: string }).metricName ?? metric.name}{${labels}}`, value.value);
    }
  }
  return all;
}

test('a run\'s figures come from its records: status, stages, weight, samples, gates, rollbacks with MTTD and MTTR', async () => {
  const metrics = new RunMetrics();
  const records = journal();
  // Live: the first records, then a look while the ramp runs.
  metrics.observeAll('r1', records.slice(0, 14));
  let seen = await values(metrics);
  assert.equal(seen.get('ferry_slice_target_weight_ratio{run=r1,slice=ads}'), 0.1);
  assert.equal(seen.get('ferry_stage_state{run=r1,slice=ads,stage=ramp,state=running}'), 1);
  assert.equal(seen.get('ferry_stage_state{run=r1,slice=ads,stage=apply,state=done}'), 1);
  assert.equal(seen.get('ferry_stage_state{run=r1,slice=ads,stage=data-sync,state=skipped}'), 1);
  assert.equal(seen.get('ferry_stage_duration_seconds{run=r1,slice=ads,stage=apply}'), 1);
  assert.equal(seen.get('ferry_ramp_requests_total{run=r1,side=target,slice=ads}'), 22);
  assert.equal(seen.get('ferry_ramp_errors_total{run=r1,side=target,slice=ads}'), 7);
  assert.equal(seen.get('ferry_ramp_latency_p99_seconds{run=r1,side=target,slice=ads}'), 0.04);
  assert.equal(seen.get('ferry_replication_lag_seconds{run=r1,slice=ads}'), 0.25);
  assert.equal(seen.get('ferry_data_sync_tables{run=r1,slice=ads,state=ready}'), 1);
  assert.equal(seen.get('ferry_parity_differences{run=r1,slice=ads}'), 2, 'the final parity at cutover');
  assert.equal(seen.get('ferry_parity_transient_differences{run=r1,slice=ads}'), 1);
  assert.equal(seen.get('ferry_parity_rows_compared{run=r1,slice=ads}'), 510);
  assert.equal(seen.get('ferry_data_cutover_write_pause_seconds{run=r1,slice=ads}'), 0.42);
  assert.equal(seen.get('ferry_gate_open{gate=errorRate,run=r1,slice=ads,verdict=inconclusive}'), 1);
  assert.equal(seen.get('ferry_approvals_total{run=r1,slice=ads}'), 1);
  assert.equal(seen.get('ferry_approval_waiting{run=r1,slice=ads}'), 0);
  assert.equal(seen.get('ferry_run_status{run=r1,status=running}'), 1);

  metrics.observeAll('r1', records.slice(14));
  seen = await values(metrics);
  assert.equal(seen.get('ferry_slice_target_weight_ratio{run=r1,slice=ads}'), 0);
  assert.equal(seen.get('ferry_gate_open{gate=errorRate,run=r1,slice=ads,verdict=inconclusive}'), 0);
  assert.equal(seen.get('ferry_gate_failures_total{gate=errorRate,run=r1,slice=ads}'), 1);
  assert.equal(seen.get('ferry_rollbacks_total{kind=ramp,reason=fail,run=r1,slice=ads}'), 1);
  assert.equal(seen.get('ferry_rollbacks_total{kind=slice,reason=automatic,run=r1,slice=ads}'), 1);
  assert.equal(seen.get('ferry_rollback_detection_seconds_sum{run=r1,slice=ads}'), 1.2);
  assert.equal(seen.get('ferry_rollback_recovery_seconds_sum{kind=ramp,run=r1,slice=ads}'), 0.3);
  assert.equal(seen.get('ferry_last_rollback_recovery_seconds{kind=slice,run=r1,slice=ads}'), 4);
  // An automatic rollback sends the slice back to its first stage.
  assert.equal(seen.get('ferry_stage_state{run=r1,slice=ads,stage=ramp,state=pending}'), 1);
  assert.equal(seen.get('ferry_run_status{run=r1,status=failed}'), 1);
  assert.equal(seen.get('ferry_run_status{run=r1,status=running}'), 0);
  assert.equal(seen.get('ferry_notifications_undelivered_total{receiver=down,run=r1}'), 7);
});

test('replaying a journal gives the values live observation gave, and records seen twice count once', async () => {
  const records = journal();
  const live = new RunMetrics();
  for (const each of records) live.observe('r1', each);
  const replayed = new RunMetrics();
  replayed.observeAll('r1', records.slice(0, 9));
  // A follower re-reading from the start, then the rest.
  replayed.observeAll('r1', records);
  replayed.observeAll('r1', records.slice(5));
  assert.deepEqual(await values(replayed), await values(live));
  assert.equal((await values(live)).get('ferry_journal_records_total{run=r1,type=ramp-sample}'), 2);
});

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const labelValues = /^label_values\(([^,{]+)/.exec(expr.trim());
  if (labelValues) return [labelValues[1]!.trim()];
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless']);
  return [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)].filter((m) => !m[2] && !keywords.has(m[1]!)).map((m) => m[1]!);
}

test('every PromQL expression of the Grafana dashboard names only metrics RunMetrics exports', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../../deploy/grafana/ferry-dashboard.json', import.meta.url), 'utf8'));
  const metrics = new RunMetrics();
  const exported = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    exported.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${metric.name}${suffix}`);
  }
  const exprs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'definition') && typeof value === 'string') exprs.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  assert.deepEqual(metricNames('sum by (slice) (rate(foo_total{x="a b"}[5m])) / on(slice) bar or vector(0)'), ['foo_total', 'bar'], 'the name extraction itself');
  assert.ok(exprs.length >= 20, `only ${exprs.length} expressions found`);
  const used = new Set(exprs.flatMap(metricNames));
  const unknown = [...used].filter((name) => !exported.has(name));
  assert.deepEqual(unknown, [], `the dashboard asks for series Ferry does not export: ${unknown.join(', ')}`);
  for (const wanted of ['ferry_slice_target_weight_ratio', 'ferry_ramp_errors_total', 'ferry_ramp_latency_p99_seconds', 'ferry_replication_lag_seconds', 'ferry_stage_state', 'ferry_rollback_detection_seconds_sum', 'ferry_rollback_recovery_seconds_sum']) {
    assert.ok(used.has(wanted), `the dashboard shows ${wanted}`);
  }
  // Selected by the dashboard's variables, which exist.
  const variables = dashboard.templating.list.map((v: { name: string }) => v.name);
  assert.deepEqual(variables, ['datasource', 'run', 'slice']);
});
