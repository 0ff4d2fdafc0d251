import type { RunReport } from '../report/model.js';
import type { RunState } from '../run/model.js';
import { color } from '../util/color.js';
import { renderTable } from '../util/output.js';
import { percentile } from '../analysis/stats/percentile.js';
import type { LoadResult } from './load.js';
import { clustersOf, type CallAnswer, type WaveCrossings } from './boutique.js';

/** What a rehearsal proves, in numbers: no customer errors, no lost write, every step timed. */
export interface Scorecard {
  run: string;
  status: RunState['status'];
  passed: boolean;
  error?: string;
  durationSeconds: number;
  /** `report`: the run report (`ferry report RUN -o html`) written next to the journal. */
  files: { dir: string; plan: string; journal: string; report?: string };
  customers: { requests: number; failed: number; failureRate: number; p50Ms: number; p99Ms: number; servedBy: Record<string, number>; failures: LoadResult['failures'] };
  data: { acknowledgedOrders: number; ordersFoundOnTarget: number; lost: number; writePauseMs?: number; parityRows?: number; parityRowsPerSecond?: number };
  /** The eleven-service application: its users' calls, and per wave the calls that crossed clusters. */
  calls: { requests: number; failed: number; failures: Array<{ at: number; status: number; error?: string }>; waves: WaveCrossings[]; bridges: number; onTargetAtEnd: boolean };
  stages: Array<{ slice: string; stage: string; seconds: number; detail: string }>;
  ramp: Array<{ slice: string; weight: number; atSecond: number }>;
  journal: { records: number; intact: boolean };
}

/**
 * The demo's scorecard: the run's own numbers come from its run report (`ferry report`, built
 * from the journal and plan); what only the demo knows — its customers, orders and boutique
 * calls — is added here.
 */
export function buildScorecard(input: {
  run: string; dir: string; planFile: string; journalFile: string; reportFile?: string; report: RunReport;
  load: LoadResult; acknowledgedOrders: number; ordersFoundOnTarget: number; durationMs: number; error: string | undefined;
  calls: { answers: CallAnswer[]; waves: WaveCrossings[] };
}): Scorecard {
  const { report } = input;
  const t0 = report.run.startedAt ?? 0;
  const slices = report.waves.flatMap((wave) => wave.slices);
  const stages: Scorecard['stages'] = slices
    .flatMap((slice) => slice.stages.filter((s) => s.result === 'completed' || s.result === 'failed').map((s) => ({ slice: slice.name, run: s })))
    .sort((a, b) => (a.run.endedAt ?? 0) - (b.run.endedAt ?? 0))
    .map(({ slice, run }) => ({ slice, stage: run.stage, seconds: (run.durationMs ?? 0) / 1000, detail: run.result === 'failed' ? `FAILED: ${run.error}` : run.detail ?? '' }));
  const writePauseMs = report.scorecard.writePauses.filter((pause) => pause.kind === 'cutover').at(-1)?.writePauseMs;
  const parity = report.scorecard.parity.checks.filter((check) => check.check === 'parity-stage' && check.ok).at(-1);
  const parityRows = parity?.rows;
  const parityRowsPerSecond = parity?.rowsPerSecond;
  const ramp = slices
    .flatMap((slice) => slice.weights.filter((w) => w.record === 'weight-set').map((w) => ({ slice: slice.name, weight: w.weight, at: w.at })))
    .sort((a, b) => a.at - b.at)
    .map(({ slice, weight, at }) => ({ slice, weight, atSecond: (at - t0) / 1000 }));
  const { load } = input;
  const lost = input.acknowledgedOrders - input.ordersFoundOnTarget;
  const failedCalls = input.calls.answers.filter((answer) => answer.status !== 200);
  // The last answers, after the run: every hop on the target.
  const last = input.calls.answers.filter((answer) => answer.tree).at(-1);
  const onTargetAtEnd = last !== undefined && [...clustersOf(last.tree)].every((cluster) => cluster === 'target');
  const wavesAsPlanned = input.calls.waves.every((wave) => wave.answers === 0 || wave.observed.join() === wave.planned.join());
  const passed = report.run.status === 'completed' && load.failed === 0 && lost === 0 && report.journal.ok && failedCalls.length === 0 && wavesAsPlanned;
  return {
    run: input.run,
    status: report.run.status,
    passed,
    ...(input.error ? { error: input.error } : {}),
    durationSeconds: input.durationMs / 1000,
    files: { dir: input.dir, plan: input.planFile, journal: input.journalFile, ...(input.reportFile ? { report: input.reportFile } : {}) },
    customers: {
      requests: load.requests, failed: load.failed, failureRate: load.requests ? load.failed / load.requests : 0,
      p50Ms: percentile(load.latenciesMs, 50), p99Ms: percentile(load.latenciesMs, 99), servedBy: load.servedBy, failures: load.failures.slice(0, 20),
    },
    data: { acknowledgedOrders: input.acknowledgedOrders, ordersFoundOnTarget: input.ordersFoundOnTarget, lost, ...(writePauseMs !== undefined ? { writePauseMs } : {}), ...(parityRows !== undefined ? { parityRows, parityRowsPerSecond: parityRowsPerSecond ?? 0 } : {}) },
    calls: {
      requests: input.calls.answers.length, failed: failedCalls.length,
      failures: failedCalls.slice(0, 10).map((answer) => ({ at: answer.at, status: answer.status, ...(answer.error ? { error: answer.error.slice(0, 300) } : {}) })),
      waves: input.calls.waves, bridges: report.bridges.length, onTargetAtEnd,
    },
    stages,
    ramp,
    journal: { records: report.run.records, intact: report.journal.ok },
  };
}

export function renderScorecard(card: Scorecard): string {
  const c = color();
  const ok = (good: boolean, text: string) => (good ? c.green(text) : c.red(text));
  const lines = [
    `${c.bold('Ferry demo scorecard')} — run ${card.run}: ${ok(card.status === 'completed', card.status)} in ${card.durationSeconds.toFixed(1)} s`,
    card.error ? c.red(`error: ${card.error}`) : '',
    '',
    renderTable(['SLICE', 'STAGE', 'SECONDS', 'RESULT'], card.stages.map((s) => [s.slice, s.stage, s.seconds.toFixed(1), s.detail])).trimEnd(),
    '',
    ...rampLines(card.ramp),
    `customers: ${card.customers.requests} requests, ${ok(card.customers.failed === 0, `${card.customers.failed} failed`)} (${(card.customers.failureRate * 100).toFixed(3)} %), p50 ${card.customers.p50Ms.toFixed(1)} ms, p99 ${card.customers.p99Ms.toFixed(1)} ms; served by ${Object.entries(card.customers.servedBy).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `data: ${card.data.acknowledgedOrders} orders acknowledged, ${card.data.ordersFoundOnTarget} found on the target, ${ok(card.data.lost === 0, `${card.data.lost} lost`)}; write pause at cutover ${card.data.writePauseMs?.toFixed(0) ?? '-'} ms; parity ${card.data.parityRows ?? '-'} rows at ${card.data.parityRowsPerSecond ?? '-'} rows/s`,
    `boutique: ${card.calls.requests} requests through eleven services, ${ok(card.calls.failed === 0, `${card.calls.failed} failed`)}; ${card.calls.bridges} bridges made; every hop on the target at the end: ${ok(card.calls.onTargetAtEnd, card.calls.onTargetAtEnd ? 'yes' : 'no')}`,
    renderTable(['WAVE', 'CALLS CROSSING CLUSTERS (seen while the wave stood)', 'AS PLANNED'], card.calls.waves.map((wave) => [
      wave.wave,
      wave.observed.join(', ') || (wave.answers === 0 ? '(not seen standing)' : 'none'),
      wave.answers === 0 ? '-' : ok(wave.observed.join() === wave.planned.join(), wave.observed.join() === wave.planned.join() ? 'yes' : `no: planned ${wave.planned.join(', ') || 'none'}`),
    ])).trimEnd(),
    `journal: ${card.journal.records} records, ${ok(card.journal.intact, card.journal.intact ? 'hash chain intact' : 'BROKEN')} (${card.files.journal})`,
    card.files.report ? `run report (MTTD/MTTR, timelines, every stage): ${card.files.report}` : '',
    '',
    ok(card.passed, card.passed ? 'PASS: migrated wave by wave under load with no failed request, no lost write, and every crossing call as planned' : 'FAIL: see above'),
  ];
  return `${lines.filter((line, i) => line !== '' || lines[i - 1] !== '').join('\n')}\n`;
}

/** One line per slice that ramped: its target weight at each second of the run. */
function rampLines(ramp: Scorecard['ramp']): string[] {
  const slices = [...new Set(ramp.map((step) => step.slice))];
  if (slices.length === 0) return ['traffic ramp: none'];
  return slices.map((slice) => `ramp ${slice} (target weight at second): ${ramp.filter((step) => step.slice === slice).map((step) => `${step.weight}%@${step.atSecond.toFixed(1)}s`).join(' → ')}`);
}
