import type { JournalRecord } from '../journal/record.js';
import type { VerifyResult } from '../journal/verify.js';
import type { MigrationPlan } from '../plan/schema.js';
import { effectiveSlice } from '../run/slice-settings.js';
import { deriveRunState } from '../run/state.js';
import { failedRequests, meanOf, paritySummary, stageDurations, targetShare } from './scorecard.js';
import {
  REPORT_SCHEMA, type BridgeReport, type FailureReport, type JournalCheck, type ParitySummary, type ReportSample, type RunReport,
  type Scorecard, type SideSample, type SliceReport, type StageRun, type WaveReport, type WritePause,
} from './model.js';

export interface RunReportInput {
  runId: string;
  /** The plan the run was started with (its run directory's plan.yaml). */
  plan: MigrationPlan;
  /** The journal's records, in order (what the file claims when it does not verify). */
  records: readonly JournalRecord[];
  /** The journal's verification; absent: the report says it was not checked. */
  verify?: VerifyResult;
}

const DEFINITIONS: RunReport['definitions'] = {
  failedRequests: 'Errors (5xx, no answer, gRPC status other than 0) each side served to users during ramps: the sum of the ramp-sample records, the same buckets the judge read. Outside a ramp (shadow, soak) users are not sampled.',
  mttd: 'Mean time to detect: detectedAt − onsetAt of each ramp rollback (`rolled-back`), exactly the journal\'s times; onset is the start of the first bucket the failing gates saw bad. Stage failures rolled back automatically have no onset and no MTTD.',
  mttr: 'Mean time to recover: weightZeroAt − detectedAt of each ramp rollback (the weight read back at 0); for a slice rolled back after a failed stage (`rollback-slice`, automatic), the time from the failure to the weight read back at 0 (recoveryMs). Means cover failures Ferry detected; `ferry rollback` (requested) is listed with its recovery time but not averaged.',
  targetShare: 'Per slice that ramps, the planned window starts at its first weight-set record and lasts steps × stepWindow (each step held one window). plannedShare: time-weighted mean of the plan\'s step weights over the window; weightShare: the same of the journaled target weight; requestShare: target requests ÷ all requests of the ramp samples ending inside the window; fullInWindow: the weight reached 100 % by the window\'s end.',
  parity: 'Row differences found by parity checks (the parity stage, and the final check of a data cutover), counting differences seen while replication was live that a re-check no longer found (transient: replication repaired them). Repaired: transient differences, plus those of a failed check followed by a passing check of the same slice. Outstanding: differences of a slice\'s last check when it failed.',
  writePause: 'How long writes were held at each data cutover (and at a failback during rollback), from the stage\'s journaled writePauseMs.',
};

/**
 * Builds the report of one run from its journal records and plan alone, so it works for any
 * run in any state: finished, failed, rolled back, or still going (what has happened so far).
 */
export function buildRunReport(input: RunReportInput): RunReport {
  const { runId, plan, records } = input;
  const state = deriveRunState(runId, plan, records);
  const at = (record: JournalRecord) => Date.parse(record.at);
  const lastRecordAt = records.length ? at(records.at(-1)!) : undefined;
  const startedAt = state.startedAt ? Date.parse(state.startedAt) : records[0] ? at(records[0]) : undefined;
  const endedAt = state.endedAt ? Date.parse(state.endedAt) : undefined;
  // Set by the run's last end (completed, failed, aborted, rolled back); a resume clears it.
  const finished = state.endedAt !== undefined;
  const runError = [...records].reverse().find((record) => record.type === 'run-failed')?.data.error;

  const slices = new Map<string, SliceReport>();
  plan.spec.waves.forEach((wave, w) => {
    for (const slice of wave.slices) {
      const effective = effectiveSlice(plan, slice);
      const sliceState = state.slices.find((s) => s.name === slice.name)!;
      slices.set(slice.name, {
        name: slice.name, wave: w + 1, weight: sliceState.weight, stageStates: sliceState.stages, rolledBack: sliceState.rolledBack,
        automaticRollbacks: sliceState.automaticRollbacks ?? 0,
        // The state keeps the last error after a later success: only a slice still failed shows it.
        ...(sliceState.lastError && Object.values(sliceState.stages).includes('failed') ? { lastError: sliceState.lastError } : {}),
        stages: [], weights: [], samples: [], lag: [],
        planned: { steps: effective.steps, stepWindowMs: effective.stepHoldMs, soakMs: effective.soakMs, traffic: effective.provider !== 'none' },
      });
    }
  });

  const open = new Map<string, StageRun>();
  const failures: FailureReport[] = [];
  const writePauses: WritePause[] = [];
  const parityChecks: ParitySummary['checks'] = [];
  const bridges: BridgeReport[] = [];
  const bridgeProblems: RunReport['bridgeProblems'] = [];
  // Per slice, its ramp's gate failure until a stage starts again: what an automatic rollback-slice follows.
  const gateFailureOf = new Map<string, FailureReport>();
  for (const record of records) {
    const data = record.data as Record<string, any>;
    const slice = typeof data.slice === 'string' ? slices.get(data.slice) : undefined;
    const time = at(record);
    const key = `${data.slice}/${data.stage}`;
    switch (record.type) {
      case 'stage-started': {
        const run: StageRun = { stage: String(data.stage), result: 'running', startedAt: time };
        open.set(key, run);
        slice?.stages.push(run);
        gateFailureOf.delete(String(data.slice));
        break;
      }
      case 'stage-completed':
      case 'stage-failed':
      case 'stage-interrupted': {
        const { slice: _slice, stage, ...rest } = data;
        let run = open.get(key);
        open.delete(key);
        if (!run) {
          // A journal that starts mid-stage (or was cut): the end is known, not the start.
          run = { stage: String(stage), result: 'running' };
          slice?.stages.push(run);
        }
        run.endedAt = time;
        if (run.startedAt !== undefined) run.durationMs = time - run.startedAt;
        if (record.type === 'stage-completed') {
          run.result = 'completed';
          const detail = summarize(rest);
          if (detail) run.detail = detail;
          if (stage === 'data-cutover' && typeof rest.writePauseMs === 'number') {
            writePauses.push({ slice: String(data.slice), at: time, kind: 'cutover', writePauseMs: rest.writePauseMs, ...optionalNumbers(rest, ['maxWritePauseMs', 'pauseOverLimitMs', 'givenBack']) });
          }
          if (stage === 'parity') {
            parityChecks.push({ slice: String(data.slice), at: time, check: 'parity-stage', ok: true, differences: numberOr(rest.differences, 0), ...optionalNumbers(rest, ['rows', 'rowsPerSecond', 'transientDifferences']) });
          }
          if (stage === 'data-cutover' && rest.finalParity && typeof rest.finalParity === 'object') {
            const final = rest.finalParity as Record<string, unknown>;
            parityChecks.push({ slice: String(data.slice), at: time, check: 'cutover-final', ok: final.ok !== false, differences: numberOr(final.differences, 0), ...optionalNumbers(final, ['rows', 'transientDifferences']) });
          }
        } else if (record.type === 'stage-failed') {
          run.result = 'failed';
          run.error = String(rest.error ?? '');
          // A failed parity check (the stage's, or the cutover's final one) journals its figures as data.
          if (typeof rest.differences === 'number' && (stage === 'parity' || stage === 'data-cutover')) {
            parityChecks.push({ slice: String(data.slice), at: time, check: stage === 'parity' ? 'parity-stage' : 'cutover-final', ok: false, differences: rest.differences, ...optionalNumbers(rest, ['rows', 'transientDifferences']) });
          }
        } else {
          run.result = 'interrupted';
          if (rest.by) run.reason = `interrupted by ${rest.by}`;
        }
        break;
      }
      case 'stage-skipped':
        slice?.stages.push({ stage: String(data.stage), result: 'skipped', startedAt: time, endedAt: time, durationMs: 0, ...(data.reason ? { reason: String(data.reason) } : {}) });
        break;
      case 'weight-set':
        slice?.weights.push({ at: time, weight: Number(data.weight), record: 'weight-set', ...(data.reason ? { reason: String(data.reason) } : {}) });
        break;
      case 'ramp-sample': {
        const sample = toSample(data);
        if (sample) slice?.samples.push(sample);
        if (sample?.replicationLagMs !== undefined) slice?.lag.push({ at: sample.to, lagMs: sample.replicationLagMs, during: 'ramp' });
        break;
      }
      case 'lag-sample':
        if (typeof data.replicationLagMs === 'number') slice?.lag.push({ at: time, lagMs: data.replicationLagMs, during: 'data-sync' });
        break;
      case 'rolled-back':
        // The judge set 0 and read it back at weightZeroAt; no weight-set record is written for it.
        slice?.weights.push({ at: Number(data.weightZeroAt), weight: 0, record: 'rolled-back' });
        failures.push({
          slice: String(data.slice), kind: 'gate',
          onsetAt: Number(data.onsetAt), detectedAt: Number(data.detectedAt), weightZeroAt: Number(data.weightZeroAt),
          mttdMs: Number(data.detectedAt) - Number(data.onsetAt), mttrMs: Number(data.weightZeroAt) - Number(data.detectedAt),
          ...optionalNumbers(data, ['weightBefore', 'step']),
          reason: failedGatesText(data.evidence) || 'the ramp\'s gates failed',
          ...(failedGates(data.evidence).length ? { gates: failedGates(data.evidence) } : {}),
        });
        gateFailureOf.set(String(data.slice), failures.at(-1)!);
        break;
      case 'rollback-slice': {
        const detectedAt = typeof data.detectedAt === 'string' ? Date.parse(data.detectedAt) : Number(data.detectedAt ?? time);
        const recoveryMs = typeof data.recoveryMs === 'number' ? data.recoveryMs : undefined;
        const reason = data.reason === 'automatic' ? 'automatic' : 'requested';
        if (data.weight === 0 && recoveryMs !== undefined) slice?.weights.push({ at: detectedAt + recoveryMs, weight: 0, record: 'rollback-slice' });
        if (data.failback && typeof data.failback === 'object' && typeof data.failback.writePauseMs === 'number') {
          writePauses.push({ slice: String(data.slice), at: time, kind: 'failback', writePauseMs: data.failback.writePauseMs });
        }
        // rollback.onFailure after a ramp's own rollback: the same failure, its slice taken back too.
        const gate = reason === 'automatic' ? gateFailureOf.get(String(data.slice)) : undefined;
        if (gate) {
          gateFailureOf.delete(String(data.slice));
          gate.followedBy = { kind: 'automatic', at: time, ...(recoveryMs !== undefined ? { recoveryMs } : {}), ...optionalNumbers(data, ['sourceReadyMs']) };
          break;
        }
        failures.push({
          slice: String(data.slice), kind: reason, detectedAt,
          ...(recoveryMs !== undefined ? { weightZeroAt: detectedAt + recoveryMs, mttrMs: recoveryMs } : {}),
          reason: reason === 'automatic' ? `rollback.onFailure: automatic after: ${String(data.error ?? 'a failed stage')}` : 'ferry rollback (requested)',
        });
        break;
      }
      case 'bridge-created': {
        const bridgeRecord = (data.record ?? {}) as Record<string, any>;
        bridges.push({
          key: String(data.key), callers: Array.isArray(data.callers) ? data.callers.map(String) : [], createdAt: time,
          ...(data.callee !== undefined ? { callee: describe(data.callee) } : {}),
          ...(bridgeRecord.provider ? { provider: String(bridgeRecord.provider) } : {}),
          warnings: Array.isArray(bridgeRecord.warnings) ? bridgeRecord.warnings.map(String) : [],
        });
        break;
      }
      case 'bridge-failed':
      case 'bridge-replace-incomplete':
        bridgeProblems.push({ at: time, ...(typeof data.slice === 'string' ? { slice: data.slice } : {}), ...(typeof data.key === 'string' ? { key: data.key } : {}), error: String(data.error ?? '') });
        break;
      case 'bridge-removed':
      case 'bridge-replaced': {
        const bridge = [...bridges].reverse().find((b) => b.key === data.key && b.removedAt === undefined && b.replacedAt === undefined);
        if (bridge && record.type === 'bridge-removed') bridge.removedAt = time;
        if (bridge && record.type === 'bridge-replaced') bridge.replacedAt = time;
        break;
      }
    }
  }

  const allSlices = [...slices.values()];
  for (const slice of allSlices) {
    slice.weights.sort((a, b) => a.at - b.at);
    slice.lag.sort((a, b) => a.at - b.at);
  }
  const scorecard: Scorecard = {
    failedRequests: failedRequests(allSlices),
    failures,
    mttdMs: meanOf(failures.filter((f) => f.kind !== 'requested').flatMap((f) => (f.mttdMs !== undefined ? [f.mttdMs] : []))),
    mttrMs: meanOf(failures.filter((f) => f.kind !== 'requested').flatMap((f) => (f.mttrMs !== undefined ? [f.mttrMs] : []))),
    targetShare: targetShare(allSlices, finished, lastRecordAt),
    parity: paritySummary(parityChecks),
    writePauses,
    stageDurations: stageDurations(allSlices),
  };

  return {
    schema: REPORT_SCHEMA,
    run: {
      id: runId, plan: plan.metadata.name, status: state.status, finished,
      ...(startedAt !== undefined ? { startedAt } : {}), ...(endedAt !== undefined ? { endedAt } : {}),
      ...(lastRecordAt !== undefined ? { lastRecordAt } : {}),
      ...(startedAt !== undefined ? { durationMs: (endedAt ?? lastRecordAt ?? startedAt) - startedAt } : {}),
      records: records.length,
      ...(runError !== undefined && state.status === 'failed' ? { error: String(runError) } : {}),
    },
    journal: journalCheck(input.verify, records.length),
    waves: plan.spec.waves.map((wave, w) => waveReport(w + 1, wave, wave.slices.map((slice) => slices.get(slice.name)!))),
    scorecard,
    bridges,
    bridgeProblems,
    approvals: state.approvals.map((approval) => ({ slice: approval.slice, by: approval.by, at: Date.parse(approval.at) })),
    definitions: DEFINITIONS,
  };
}

function waveReport(number: number, wave: MigrationPlan['spec']['waves'][number], slices: SliceReport[]): WaveReport {
  const runs = slices.flatMap((slice) => slice.stages).filter((run) => run.result !== 'skipped');
  const starts = runs.flatMap((run) => (run.startedAt !== undefined ? [run.startedAt] : []));
  const ends = runs.flatMap((run) => (run.endedAt !== undefined ? [run.endedAt] : []));
  return {
    number, name: wave.name,
    ...(starts.length ? { startedAt: Math.min(...starts) } : {}),
    ...(ends.length ? { endedAt: Math.max(...ends) } : {}),
    crossClusterCalls: wave.crossClusterCalls.map((call) => ({ from: call.from, to: call.to, direction: call.direction })),
    slices,
  };
}

function journalCheck(verify: VerifyResult | undefined, records: number): JournalCheck {
  if (!verify) return { checked: false, ok: false, records };
  return {
    checked: true, ok: verify.ok, records: verify.records, keyed: verify.keyed, unanchored: verify.unanchored, tornTail: verify.tornTail,
    ...(verify.brokenAt ? { brokenAt: verify.brokenAt } : {}), ...(verify.problem ? { problem: verify.problem } : {}),
    ...(verify.key ? { key: verify.key } : {}), ...(verify.anchor ? { anchor: verify.anchor } : {}),
  };
}

function toSample(data: Record<string, any>): ReportSample | undefined {
  const from = Date.parse(String(data.from));
  const to = Date.parse(String(data.to));
  if (!Number.isFinite(from) || !Number.isFinite(to)) return undefined;
  return {
    from, to, weight: Number(data.weight), target: side(data.target), source: side(data.source),
    ...(typeof data.replicationLagMs === 'number' ? { replicationLagMs: data.replicationLagMs } : {}),
  };
}

function side(value: unknown): SideSample {
  const data = (value ?? {}) as Record<string, unknown>;
  return { requests: numberOr(data.requests, 0), errors: numberOr(data.errors, 0), ...optionalNumbers(data, ['p50Ms', 'p99Ms']) };
}

function failedGates(evidence: unknown): Array<{ gate: string; verdict: string; reason: string }> {
  const gates = (evidence as { gates?: Array<Record<string, unknown>> } | undefined)?.gates;
  if (!Array.isArray(gates)) return [];
  return gates.filter((gate) => gate.verdict === 'fail').map((gate) => ({ gate: String(gate.gate), verdict: String(gate.verdict), reason: String(gate.reason ?? '') }));
}

function failedGatesText(evidence: unknown): string {
  return failedGates(evidence).map((gate) => `${gate.gate}: ${gate.reason}`).join('; ');
}

/** A stage's journaled result as `key=value` pairs: its scalar fields, nested objects one level deep. */
function summarize(data: Record<string, unknown>): string {
  const flat = Object.entries(data).flatMap(([key, value]) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value as Record<string, unknown>).map(([inner, v]) => [`${key}.${inner}`, v] as const) : [[key, value] as const]);
  return flat
    .filter(([, value]) => value !== undefined && value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key}=${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : value}`)
    .join(' ');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = (value ?? {}) as Record<string, unknown>;
  if (typeof object.name === 'string') return object.namespace ? `${object.namespace}/${object.name}` : object.name;
  return JSON.stringify(value);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function optionalNumbers<K extends string>(data: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) if (typeof data[key] === 'number' && Number.isFinite(data[key])) out[key] = data[key] as number;
  return out;
}
