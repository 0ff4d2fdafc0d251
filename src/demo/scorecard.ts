import type { JournalRecord } from '../journal/record.js';
import type { RunState } from '../run/model.js';
import { color } from '../util/color.js';
import { renderTable } from '../util/output.js';
import { percentile, type LoadResult } from './load.js';
import { clustersOf, type CallAnswer, type WaveCrossings } from './boutique.js';

/** What a rehearsal proves, in numbers: no customer errors, no lost write, every step timed. */
export interface Scorecard {
  run: string;
  status: RunState['status'];
  passed: boolean;
  error?: string;
  durationSeconds: number;
  files: { dir: string; plan: string; journal: string };
  customers: { requests: number; failed: number; failureRate: number; p50Ms: number; p99Ms: number; servedBy: Record<string, number>; failures: LoadResult['failures'] };
  data: { acknowledgedOrders: number; ordersFoundOnTarget: number; lost: number; writePauseMs?: number; parityRows?: number; parityRowsPerSecond?: number };
  /** The eleven-service application: its users' calls, and per wave the calls that crossed clusters. */
  calls: { requests: number; failed: number; failures: Array<{ at: number; status: number; error?: string }>; waves: WaveCrossings[]; bridges: number; onTargetAtEnd: boolean };
  stages: Array<{ slice: string; stage: string; seconds: number; detail: string }>;
  ramp: Array<{ slice: string; weight: number; atSecond: number }>;
  journal: { records: number; intact: boolean };
}

export function buildScorecard(input: {
  run: string; dir: string; planFile: string; journalFile: string; state: RunState; records: JournalRecord[]; journalIntact: boolean;
  load: LoadResult; acknowledgedOrders: number; ordersFoundOnTarget: number; durationMs: number; error: string | undefined;
  calls: { answers: CallAnswer[]; waves: WaveCrossings[] };
}): Scorecard {
  const { records } = input;
  const t0 = records[0] ? Date.parse(records[0].at) : 0;
  const started = new Map<string, number>();
  const stages: Scorecard['stages'] = [];
  let writePauseMs: number | undefined;
  let parityRows: number | undefined;
  let parityRowsPerSecond: number | undefined;
  for (const record of records) {
    const data = record.data as Record<string, any>;
    const key = `${data.slice}/${data.stage}`;
    if (record.type === 'stage-started') started.set(key, Date.parse(record.at));
    if (record.type === 'stage-completed' || record.type === 'stage-failed') {
      const { slice, stage, ...rest } = data;
      stages.push({ slice, stage, seconds: (Date.parse(record.at) - (started.get(key) ?? Date.parse(record.at))) / 1000, detail: record.type === 'stage-failed' ? `FAILED: ${rest.error}` : summarize(rest) });
      if (stage === 'data-cutover' && typeof rest.writePauseMs === 'number') writePauseMs = rest.writePauseMs;
      if (stage === 'parity') {
        parityRows = rest.rows;
        parityRowsPerSecond = rest.rowsPerSecond;
      }
    }
  }
  const ramp = records.filter((r) => r.type === 'weight-set').map((r) => ({ slice: String((r.data as any).slice), weight: Number((r.data as any).weight), atSecond: (Date.parse(r.at) - t0) / 1000 }));
  const { load } = input;
  const lost = input.acknowledgedOrders - input.ordersFoundOnTarget;
  const failedCalls = input.calls.answers.filter((answer) => answer.status !== 200);
  // The last answers, after the run: every hop on the target.
  const last = input.calls.answers.filter((answer) => answer.tree).at(-1);
  const onTargetAtEnd = last !== undefined && [...clustersOf(last.tree)].every((cluster) => cluster === 'target');
  const wavesAsPlanned = input.calls.waves.every((wave) => wave.answers === 0 || wave.observed.join() === wave.planned.join());
  const passed = input.state.status === 'completed' && load.failed === 0 && lost === 0 && input.journalIntact && failedCalls.length === 0 && wavesAsPlanned;
  return {
    run: input.run,
    status: input.state.status,
    passed,
    ...(input.error ? { error: input.error } : {}),
    durationSeconds: input.durationMs / 1000,
    files: { dir: input.dir, plan: input.planFile, journal: input.journalFile },
    customers: {
      requests: load.requests, failed: load.failed, failureRate: load.requests ? load.failed / load.requests : 0,
      p50Ms: percentile(load.latenciesMs, 50), p99Ms: percentile(load.latenciesMs, 99), servedBy: load.servedBy, failures: load.failures.slice(0, 20),
    },
    data: { acknowledgedOrders: input.acknowledgedOrders, ordersFoundOnTarget: input.ordersFoundOnTarget, lost, ...(writePauseMs !== undefined ? { writePauseMs } : {}), ...(parityRows !== undefined ? { parityRows, parityRowsPerSecond: parityRowsPerSecond ?? 0 } : {}) },
    calls: {
      requests: input.calls.answers.length, failed: failedCalls.length,
      failures: failedCalls.slice(0, 10).map((answer) => ({ at: answer.at, status: answer.status, ...(answer.error ? { error: answer.error.slice(0, 300) } : {}) })),
      waves: input.calls.waves, bridges: records.filter((r) => r.type === 'bridge-created').length, onTargetAtEnd,
    },
    stages,
    ramp,
    journal: { records: records.length, intact: input.journalIntact },
  };
}

function summarize(data: Record<string, unknown>): string {
  const flat = Object.entries(data).flatMap(([key, value]) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value as Record<string, unknown>).map(([inner, v]) => [`${key}.${inner}`, v] as const) : [[key, value] as const]);
  return flat
    .filter(([, value]) => value !== undefined && typeof value !== 'object')
    .map(([key, value]) => `${key}=${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : value}`)
    .join(' ');
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
