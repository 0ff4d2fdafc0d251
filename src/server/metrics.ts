import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Journal } from '../journal/journal.js';
import type { JournalRecord } from '../journal/record.js';
import type { RunFiles } from '../run/store.js';
import { FerryError } from '../util/errors.js';
import type { RunState, RunStatus, SliceState, StageStatus } from '../run/model.js';
import { RunStateBuilder } from '../run/state.js';

/**
 * Ferry's own Prometheus metrics, derived from journal records alone: the same object serves
 * `ferry run --metrics-port` (records as the run appends them) and the dashboard server
 * (records of runs driven elsewhere, followed from their files). Observation is idempotent by
 * seq per run, so replaying a journal gives the values live observation gave, and a follower
 * that re-reads records it already saw changes nothing.
 *
 * Names follow Prometheus conventions: base units (seconds, ratios 0–1) in the name, `_total`
 * on counters, enum states as one series per state valued 1 or 0.
 */
export const RUN_STATUSES: readonly RunStatus[] = ['running', 'paused', 'waiting-approval', 'completed', 'failed', 'rolled-back', 'aborted'];
export const STAGE_STATES: readonly StageStatus[] = ['pending', 'running', 'done', 'skipped', 'failed'];
export const SIDES = ['source', 'target'] as const;

/** Seconds: from a detection in about a second to a slow rollback of a slice with data. */
const TIME_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];

type Data = Record<string, unknown>;

interface RunView {
  lastSeq: number;
  /** The run's status, stages and approvals exactly as `ferry status` derives them (src/run/state.ts). */
  state: RunStateBuilder;
  /** What the status and stage gauges show now, so only changes are set. */
  shownStatus?: RunStatus;
  shownStages: Map<string, Partial<Record<string, StageStatus>>>;
  /** When each running stage started (epoch ms of its record), for its duration. */
  started: Map<string, number>;
  /** Gates currently open per slice: `gate\u0000verdict`. */
  openGates: Map<string, Set<string>>;
}

export class RunMetrics {
  readonly registry: Registry;
  private readonly runs = new Map<string, RunView>();

  private readonly runInfo: Gauge<'run' | 'plan'>;
  private readonly runStatus: Gauge<'run' | 'status'>;
  private readonly runStarted: Gauge<'run'>;
  private readonly runEnded: Gauge<'run'>;
  private readonly records: Counter<'run' | 'type'>;
  private readonly lastRecord: Gauge<'run'>;
  private readonly stageState: Gauge<'run' | 'slice' | 'stage' | 'state'>;
  private readonly stageDuration: Gauge<'run' | 'slice' | 'stage'>;
  private readonly weight: Gauge<'run' | 'slice'>;
  private readonly stepVerdicts: Counter<'run' | 'slice' | 'verdict'>;
  private readonly stepsPassed: Gauge<'run' | 'slice'>;
  private readonly gateOpen: Gauge<'run' | 'slice' | 'gate' | 'verdict'>;
  private readonly gateFailures: Counter<'run' | 'slice' | 'gate'>;
  private readonly rampRequests: Counter<'run' | 'slice' | 'side'>;
  private readonly rampErrors: Counter<'run' | 'slice' | 'side'>;
  private readonly rampErrorRatio: Gauge<'run' | 'slice' | 'side'>;
  private readonly rampP99: Gauge<'run' | 'slice' | 'side'>;
  private readonly rampP50: Gauge<'run' | 'slice' | 'side'>;
  private readonly lag: Gauge<'run' | 'slice'>;
  private readonly tables: Gauge<'run' | 'slice' | 'state'>;
  private readonly undelivered: Counter<'run' | 'receiver'>;
  private readonly shadowCompared: Gauge<'run' | 'slice'>;
  private readonly shadowMismatched: Gauge<'run' | 'slice'>;
  private readonly parityDifferences: Gauge<'run' | 'slice'>;
  private readonly parityRows: Gauge<'run' | 'slice'>;
  private readonly parityTransient: Gauge<'run' | 'slice'>;
  private readonly writePause: Gauge<'run' | 'slice'>;
  private readonly rollbacks: Counter<'run' | 'slice' | 'kind' | 'reason'>;
  private readonly rollbackFailures: Counter<'run' | 'slice'>;
  private readonly detection: Histogram<'run' | 'slice'>;
  private readonly recovery: Histogram<'run' | 'slice' | 'kind'>;
  private readonly lastDetection: Gauge<'run' | 'slice'>;
  private readonly lastRecovery: Gauge<'run' | 'slice' | 'kind'>;
  private readonly approvalWaiting: Gauge<'run' | 'slice'>;
  private readonly approvals: Counter<'run' | 'slice'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const r = [registry];
    this.runInfo = new Gauge({ name: 'ferry_run_info', help: 'A run Ferry knows of (always 1), labelled with its plan.', labelNames: ['run', 'plan'], registers: r });
    this.runStatus = new Gauge({ name: 'ferry_run_status', help: 'The run\'s status: 1 for the current one, 0 for the others.', labelNames: ['run', 'status'], registers: r });
    this.runStarted = new Gauge({ name: 'ferry_run_start_time_seconds', help: 'When the run started (Unix time).', labelNames: ['run'], registers: r });
    this.runEnded = new Gauge({ name: 'ferry_run_end_time_seconds', help: 'When the run ended (completed, failed, aborted or rolled back; Unix time).', labelNames: ['run'], registers: r });
    this.records = new Counter({ name: 'ferry_journal_records_total', help: 'Journal records of the run, by type.', labelNames: ['run', 'type'], registers: r });
    this.lastRecord = new Gauge({ name: 'ferry_journal_last_record_time_seconds', help: 'When the run\'s last journal record was written (Unix time).', labelNames: ['run'], registers: r });
    this.stageState = new Gauge({ name: 'ferry_stage_state', help: 'Each stage\'s state per slice: 1 for the current state, 0 for the others.', labelNames: ['run', 'slice', 'stage', 'state'], registers: r });
    this.stageDuration = new Gauge({ name: 'ferry_stage_duration_seconds', help: 'How long the stage\'s last attempt took, from its start to its completion or failure.', labelNames: ['run', 'slice', 'stage'], registers: r });
    this.weight = new Gauge({ name: 'ferry_slice_target_weight_ratio', help: 'Share of the slice\'s users sent to the target, as last set and read back (0–1).', labelNames: ['run', 'slice'], registers: r });
    this.stepVerdicts = new Counter({ name: 'ferry_ramp_step_verdicts_total', help: 'Ramp step verdicts: passed, extended (undecided, held longer), inconclusive, rolled-back.', labelNames: ['run', 'slice', 'verdict'], registers: r });
    this.stepsPassed = new Gauge({ name: 'ferry_ramp_steps_passed', help: 'Ramp steps the slice has passed.', labelNames: ['run', 'slice'], registers: r });
    this.gateOpen = new Gauge({ name: 'ferry_gate_open', help: 'Gates that did not pass at the last undecided step (1 while open; cleared when a step passes).', labelNames: ['run', 'slice', 'gate', 'verdict'], registers: r });
    this.gateFailures = new Counter({ name: 'ferry_gate_failures_total', help: 'Gates that failed in a verdict that rolled a ramp back.', labelNames: ['run', 'slice', 'gate'], registers: r });
    this.rampRequests = new Counter({ name: 'ferry_ramp_requests_total', help: 'User requests the judge counted during the ramp, per side.', labelNames: ['run', 'slice', 'side'], registers: r });
    this.rampErrors = new Counter({ name: 'ferry_ramp_errors_total', help: 'Failed user requests (5xx, no response, gRPC status other than OK) the judge counted during the ramp, per side.', labelNames: ['run', 'slice', 'side'], registers: r });
    this.rampErrorRatio = new Gauge({ name: 'ferry_ramp_error_ratio', help: 'Errors over requests in the last ramp sample, per side (0–1).', labelNames: ['run', 'slice', 'side'], registers: r });
    this.rampP99 = new Gauge({ name: 'ferry_ramp_latency_p99_seconds', help: '99th percentile latency in the last ramp sample, per side.', labelNames: ['run', 'slice', 'side'], registers: r });
    this.rampP50 = new Gauge({ name: 'ferry_ramp_latency_p50_seconds', help: 'Median latency in the last ramp sample, per side.', labelNames: ['run', 'slice', 'side'], registers: r });
    this.lag = new Gauge({ name: 'ferry_replication_lag_seconds', help: 'Replication lag of the slice\'s data, as last sampled (ramp) or measured at the end of data sync.', labelNames: ['run', 'slice'], registers: r });
    this.tables = new Gauge({ name: 'ferry_data_sync_tables', help: 'Tables of the slice\'s data being replicated: state="total", and state="ready" once caught up.', labelNames: ['run', 'slice', 'state'], registers: r });
    this.undelivered = new Counter({ name: 'ferry_notifications_undelivered_total', help: 'Notifications a receiver did not get (given up on, or still queued when the run\'s process ended).', labelNames: ['run', 'receiver'], registers: r });
    this.shadowCompared = new Gauge({ name: 'ferry_shadow_compared_requests', help: 'Mirrored requests the shadow stage compared.', labelNames: ['run', 'slice'], registers: r });
    this.shadowMismatched = new Gauge({ name: 'ferry_shadow_mismatched_requests', help: 'Mirrored requests whose responses differed.', labelNames: ['run', 'slice'], registers: r });
    this.parityDifferences = new Gauge({ name: 'ferry_parity_differences', help: 'Rows that still differed between source and target at the last parity check of the slice (the parity stage, or the final parity of its data cutover).', labelNames: ['run', 'slice'], registers: r });
    this.parityRows = new Gauge({ name: 'ferry_parity_rows_compared', help: 'Rows the last parity check compared.', labelNames: ['run', 'slice'], registers: r });
    this.parityTransient = new Gauge({ name: 'ferry_parity_transient_differences', help: 'Rows that differed while replication was live and matched on re-check (found and repaired by replication) at the last parity check.', labelNames: ['run', 'slice'], registers: r });
    this.writePause = new Gauge({ name: 'ferry_data_cutover_write_pause_seconds', help: 'How long writes were paused at the slice\'s data cutover.', labelNames: ['run', 'slice'], registers: r });
    this.rollbacks = new Counter({ name: 'ferry_rollbacks_total', help: 'Rollbacks: kind="ramp" when a ramp\'s gates sent users back (weight 0), kind="slice" when the whole slice went back to the source (reason automatic or user).', labelNames: ['run', 'slice', 'kind', 'reason'], registers: r });
    this.rollbackFailures = new Counter({ name: 'ferry_rollback_failures_total', help: 'Rollbacks of a slice that failed.', labelNames: ['run', 'slice'], registers: r });
    this.detection = new Histogram({ name: 'ferry_rollback_detection_seconds', help: 'Time to detect: from the estimated onset of a failure to the judge\'s decision.', labelNames: ['run', 'slice'], buckets: TIME_BUCKETS_SECONDS, registers: r });
    this.recovery = new Histogram({ name: 'ferry_rollback_recovery_seconds', help: 'Time to recover: from detection to target weight 0 read back (kind="ramp"), or to the whole slice being back on the source (kind="slice").', labelNames: ['run', 'slice', 'kind'], buckets: TIME_BUCKETS_SECONDS, registers: r });
    this.lastDetection = new Gauge({ name: 'ferry_last_rollback_detection_seconds', help: 'Time to detect of the slice\'s last ramp rollback.', labelNames: ['run', 'slice'], registers: r });
    this.lastRecovery = new Gauge({ name: 'ferry_last_rollback_recovery_seconds', help: 'Time to recover of the slice\'s last rollback, per kind.', labelNames: ['run', 'slice', 'kind'], registers: r });
    this.approvalWaiting = new Gauge({ name: 'ferry_approval_waiting', help: '1 while the slice waits for an approver.', labelNames: ['run', 'slice'], registers: r });
    this.approvals = new Counter({ name: 'ferry_approvals_total', help: 'Approvals given.', labelNames: ['run', 'slice'], registers: r });
  }

  /** Takes one record of run `runId`; a record at or below the last seq seen for that run is ignored. */
  observe(runId: string, record: JournalRecord): void {
    const view = this.viewOf(runId);
    if (record.seq <= view.lastSeq) return;
    view.lastSeq = record.seq;
    const data = record.data as Data;
    const at = Date.parse(record.at);
    const slice = typeof data.slice === 'string' ? data.slice : undefined;
    const run = runId;
    this.records.inc({ run, type: record.type });
    if (Number.isFinite(at)) this.lastRecord.set({ run }, at / 1000);

    const touched = view.state.apply(record);
    this.showState(run, view, touched);
    switch (record.type) {
      case 'run-started':
      case 'run-resumed':
        if (typeof data.plan === 'string') this.runInfo.set({ run, plan: data.plan }, 1);
        break;
      case 'stage-started':
        if (slice) view.started.set(`${slice}\u0000${String(data.stage)}`, at);
        break;
      case 'stage-completed':
        if (slice) {
          this.stageEnded(run, view, slice, String(data.stage), at);
          this.stageResult(run, slice, String(data.stage), data);
        }
        break;
      case 'stage-failed':
        if (slice) {
          this.stageEnded(run, view, slice, String(data.stage), at);
          // A failed parity check (the stage's, or the cutover's final one) journals its count as data.
          if (typeof data.differences === 'number') this.parityDifferences.set({ run, slice }, data.differences);
        }
        break;
      case 'weight-set': if (slice) this.weight.set({ run, slice }, Number(data.weight) / 100); break;
      case 'ramp-step-passed':
        if (slice) {
          this.stepVerdicts.inc({ run, slice, verdict: 'passed' });
          this.stepsPassed.set({ run, slice }, Number(data.step) + 1);
          this.setOpenGates(run, view, slice, []);
        }
        break;
      case 'ramp-step-extended':
      case 'ramp-step-inconclusive':
        if (slice) {
          this.stepVerdicts.inc({ run, slice, verdict: record.type === 'ramp-step-extended' ? 'extended' : 'inconclusive' });
          this.setOpenGates(run, view, slice, Array.isArray(data.open) ? (data.open as Array<{ gate?: unknown; verdict?: unknown }>) : []);
        }
        break;
      case 'rolled-back':
        if (slice) this.rampRolledBack(run, view, slice, data);
        break;
      case 'shadow-sample':
        if (slice && typeof data.compared === 'number') {
          this.shadowCompared.set({ run, slice }, data.compared);
          this.shadowMismatched.set({ run, slice }, typeof data.mismatched === 'number' ? data.mismatched : 0);
        }
        break;
      case 'lag-sample':
        if (slice && typeof data.replicationLagMs === 'number') this.lag.set({ run, slice }, data.replicationLagMs / 1000);
        if (slice && typeof data.tables === 'number') {
          this.tables.set({ run, slice, state: 'total' }, data.tables);
          if (typeof data.tablesReady === 'number') this.tables.set({ run, slice, state: 'ready' }, data.tablesReady);
        }
        break;
      case 'notifications-undelivered':
        for (const receiver of Array.isArray(data.receivers) ? (data.receivers as Array<{ name?: unknown; undelivered?: unknown }>) : []) {
          if (typeof receiver.undelivered === 'number') this.undelivered.inc({ run, receiver: String(receiver.name) }, receiver.undelivered);
        }
        break;
      case 'ramp-sample':
        if (slice) this.rampSample(run, slice, data);
        break;
      case 'rollback-slice':
        if (slice) {
          this.rollbacks.inc({ run, slice, kind: 'slice', reason: String(data.reason ?? 'user') });
          this.weight.set({ run, slice }, 0);
          if (typeof data.recoveryMs === 'number') {
            this.recovery.observe({ run, slice, kind: 'slice' }, data.recoveryMs / 1000);
            this.lastRecovery.set({ run, slice, kind: 'slice' }, data.recoveryMs / 1000);
          }
        }
        break;
      case 'rollback-failed': if (slice) this.rollbackFailures.inc({ run, slice }); break;
      case 'approval-requested':
      case 'approved':
        if (slice) this.approvalWaiting.set({ run, slice }, view.state.state.awaitingApproval.includes(slice) ? 1 : 0);
        if (slice && record.type === 'approved') this.approvals.inc({ run, slice });
        break;
    }
  }

  /** Takes every record of a journal (a replay, or what a follower read), in order. */
  observeAll(runId: string, records: Iterable<JournalRecord>): void {
    for (const record of records) this.observe(runId, record);
  }

  /** The exposition text, as served at /metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private viewOf(run: string): RunView {
    let view = this.runs.get(run);
    if (!view) {
      view = { lastSeq: 0, state: new RunStateBuilder(run, ''), shownStages: new Map(), started: new Map(), openGates: new Map() };
      this.runs.set(run, view);
    }
    return view;
  }

  /** The status, start and end, and the touched slice's stages, as the run state now says (only what changed is set). */
  private showState(run: string, view: RunView, slice: SliceState | undefined): void {
    const state: RunState = view.state.state;
    if (state.status !== view.shownStatus) {
      view.shownStatus = state.status;
      for (const each of RUN_STATUSES) this.runStatus.set({ run, status: each }, each === state.status ? 1 : 0);
    }
    if (state.startedAt) this.runStarted.set({ run }, Date.parse(state.startedAt) / 1000);
    // A resumed run has no end any more.
    if (state.endedAt) this.runEnded.set({ run }, Date.parse(state.endedAt) / 1000);
    else this.runEnded.remove({ run });
    if (!slice) return;
    const shown = view.shownStages.get(slice.name) ?? {};
    view.shownStages.set(slice.name, shown);
    for (const [stage, status] of Object.entries(slice.stages)) {
      if (shown[stage] === status) continue;
      shown[stage] = status;
      for (const each of STAGE_STATES) this.stageState.set({ run, slice: slice.name, stage, state: each }, each === status ? 1 : 0);
    }
  }

  private stageEnded(run: string, view: RunView, slice: string, stage: string, at: number): void {
    const key = `${slice}\u0000${stage}`;
    const started = view.started.get(key);
    if (started !== undefined && Number.isFinite(at) && Number.isFinite(started)) this.stageDuration.set({ run, slice, stage }, Math.max(0, at - started) / 1000);
    view.started.delete(key);
  }

  /** Figures a stage's completion record carries. */
  private stageResult(run: string, slice: string, stage: string, data: Data): void {
    if (stage === 'data-sync' && typeof data.lagSeconds === 'number') this.lag.set({ run, slice }, data.lagSeconds);
    if (stage === 'parity') {
      this.parityDifferences.set({ run, slice }, typeof data.differences === 'number' ? data.differences : 0);
      if (typeof data.rows === 'number') this.parityRows.set({ run, slice }, data.rows);
      if (typeof data.transientDifferences === 'number') this.parityTransient.set({ run, slice }, data.transientDifferences);
    }
    // The final parity a data cutover runs (the target open, replication reversed) replaces the parity stage's finding.
    const final = stage === 'data-cutover' ? (data.finalParity as { rows?: unknown; differences?: unknown; transientDifferences?: unknown } | undefined) : undefined;
    if (final) {
      if (typeof final.differences === 'number') this.parityDifferences.set({ run, slice }, final.differences);
      if (typeof final.rows === 'number') this.parityRows.set({ run, slice }, final.rows);
      if (typeof final.transientDifferences === 'number') this.parityTransient.set({ run, slice }, final.transientDifferences);
    }
    if (stage === 'shadow' && typeof data.compared === 'number') {
      this.shadowCompared.set({ run, slice }, data.compared);
      this.shadowMismatched.set({ run, slice }, typeof data.mismatched === 'number' ? data.mismatched : 0);
    }
    if (stage === 'data-cutover' && typeof data.writePauseMs === 'number') this.writePause.set({ run, slice }, data.writePauseMs / 1000);
  }

  private setOpenGates(run: string, view: RunView, slice: string, open: Array<{ gate?: unknown; verdict?: unknown }>): void {
    const now = new Set(open.map((gate) => `${String(gate.gate)}\u0000${String(gate.verdict)}`));
    for (const key of view.openGates.get(slice) ?? []) {
      if (!now.has(key)) {
        const [gate, verdict] = key.split('\u0000') as [string, string];
        this.gateOpen.set({ run, slice, gate, verdict }, 0);
      }
    }
    for (const key of now) {
      const [gate, verdict] = key.split('\u0000') as [string, string];
      this.gateOpen.set({ run, slice, gate, verdict }, 1);
    }
    view.openGates.set(slice, now);
  }

  private rampRolledBack(run: string, view: RunView, slice: string, data: Data): void {
    this.weight.set({ run, slice }, 0);
    this.stepVerdicts.inc({ run, slice, verdict: 'rolled-back' });
    this.rollbacks.inc({ run, slice, kind: 'ramp', reason: String(data.decision ?? 'fail') });
    this.setOpenGates(run, view, slice, []);
    const gates = ((data.evidence as { gates?: Array<{ gate?: unknown; verdict?: unknown }> } | undefined)?.gates) ?? [];
    for (const gate of gates) if (gate.verdict === 'fail') this.gateFailures.inc({ run, slice, gate: String(gate.gate) });
    if (typeof data.detectionMs === 'number') {
      this.detection.observe({ run, slice }, data.detectionMs / 1000);
      this.lastDetection.set({ run, slice }, data.detectionMs / 1000);
    }
    if (typeof data.recoveryMs === 'number') {
      this.recovery.observe({ run, slice, kind: 'ramp' }, data.recoveryMs / 1000);
      this.lastRecovery.set({ run, slice, kind: 'ramp' }, data.recoveryMs / 1000);
    }
  }

  private rampSample(run: string, slice: string, data: Data): void {
    if (typeof data.weight === 'number') this.weight.set({ run, slice }, data.weight / 100);
    for (const side of SIDES) {
      const sample = data[side] as { requests?: unknown; errors?: unknown; p50Ms?: unknown; p99Ms?: unknown } | undefined;
      if (!sample) continue;
      const requests = typeof sample.requests === 'number' && sample.requests > 0 ? sample.requests : 0;
      const errors = typeof sample.errors === 'number' && sample.errors > 0 ? sample.errors : 0;
      this.rampRequests.inc({ run, slice, side }, requests);
      this.rampErrors.inc({ run, slice, side }, errors);
      if (requests > 0) this.rampErrorRatio.set({ run, slice, side }, errors / requests);
      if (typeof sample.p99Ms === 'number') this.rampP99.set({ run, slice, side }, sample.p99Ms / 1000);
      if (typeof sample.p50Ms === 'number') this.rampP50.set({ run, slice, side }, sample.p50Ms / 1000);
    }
    if (typeof data.replicationLagMs === 'number') this.lag.set({ run, slice }, data.replicationLagMs / 1000);
  }
}

/**
 * What `ferry run|resume|rollback --metrics-port` attaches through `DriveOptions.onJournal`:
 * the records already in the journal (a resumed run's history) first, then each one appended.
 */
export function observeJournal(metrics: RunMetrics): (journal: Journal, files: RunFiles) => () => Promise<void> {
  return (journal, files) => {
    metrics.observeAll(files.id, journal.records);
    const unsubscribe = journal.subscribe((record) => metrics.observe(files.id, record));
    return async () => {
      unsubscribe();
    };
  };
}

export interface MetricsServer {
  /** http://HOST:PORT/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `metrics` at /metrics (Prometheus text format) on `host` (loopback by default: the
 * figures name slices and services, so exposing them further is the user's choice).
 */
export async function serveMetrics(metrics: RunMetrics, options: { port: number; host?: string }): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Ferry serves /metrics here\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new FerryError('usage', `cannot serve metrics on ${host}:${options.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`, { location: { field: '--metrics-port' }, fix: 'choose a free port, e.g. --metrics-port 9464' })));
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
