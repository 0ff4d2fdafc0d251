import type { RunStatus, StageName, StageStatus } from '../run/model.js';

/**
 * The run report (`ferry report RUN`): everything a reviewer or an incident document needs
 * about one run, derived from its journal and its plan alone. JSON-able; every time is epoch
 * milliseconds. Nothing in it is read from anywhere the journal was not: the journal is
 * redacted when written, so the report holds no secret either.
 */
export const REPORT_SCHEMA = 'ferry.dev/run-report/v1';

export interface RunReport {
  schema: typeof REPORT_SCHEMA;
  run: {
    id: string;
    plan: string;
    status: RunStatus;
    /** False while the run may still move (running, paused, waiting for approval). */
    finished: boolean;
    startedAt?: number;
    endedAt?: number;
    /** The last journal record's time: the report covers the run up to here. */
    lastRecordAt?: number;
    durationMs?: number;
    records: number;
    error?: string;
  };
  journal: JournalCheck;
  waves: WaveReport[];
  scorecard: Scorecard;
  bridges: BridgeReport[];
  /** `bridge-failed` and `bridge-replace-incomplete` records: a bridge that could not be changed (never a reason to stop a rollback). */
  bridgeProblems: Array<{ at: number; slice?: string; key?: string; error: string }>;
  approvals: Array<{ slice: string; by: string; at: number }>;
  /** What each scorecard number means, in words (shown in the Markdown and HTML too). */
  definitions: Record<'failedRequests' | 'mttd' | 'mttr' | 'targetShare' | 'parity' | 'writePause', string>;
}

export interface WaveReport {
  number: number;
  name: string;
  /** The first stage start and the last stage end of its slices (skipped stages aside). */
  startedAt?: number;
  endedAt?: number;
  /** The plan's calls that cross clusters once this wave has moved (what its bridges carry). */
  crossClusterCalls: Array<{ from: string; to: string; direction: string }>;
  slices: SliceReport[];
}

/** The journal's verification (hash chain, MACs, anchored head), or that it was not checked. */
export interface JournalCheck {
  checked: boolean;
  ok: boolean;
  records: number;
  keyed?: boolean;
  brokenAt?: { seq: number; line: number; reason: string };
  problem?: string;
  key?: { id: string; where: string };
  anchor?: { where: string; count: number; at: string };
  unanchored?: number;
  tornTail?: boolean;
}

export interface SliceReport {
  name: string;
  wave: number;
  /** Target weight as last journaled. */
  weight: number;
  stageStates: Record<StageName, StageStatus>;
  rolledBack: boolean;
  automaticRollbacks: number;
  lastError?: string;
  /** Each stage attempt in journal order (a resumed run repeats a stage), and skipped stages. */
  stages: StageRun[];
  /**
   * The target weight from `at` on: each `weight-set` record, and the 0 a rollback set and read
   * back (`rolled-back`: at weightZeroAt; `rollback-slice`: at detectedAt + recoveryMs), by time.
   */
  weights: Array<{ at: number; weight: number; record: 'weight-set' | 'rolled-back' | 'rollback-slice'; reason?: string }>;
  /** `ramp-sample` records. */
  samples: ReportSample[];
  /**
   * Replication lag over time: `lag-sample` records while data syncs (at the record's time) and
   * the lag `ramp-sample` records carry (at their `to`), by time.
   */
  lag: Array<{ at: number; lagMs: number; during: 'data-sync' | 'ramp' }>;
  /** The plan's ramp for this slice (defaults filled in). */
  planned: { steps: number[]; stepWindowMs: number; soakMs: number; traffic: boolean };
}

export interface StageRun {
  stage: string;
  result: 'completed' | 'failed' | 'interrupted' | 'running' | 'skipped';
  startedAt?: number;
  endedAt?: number;
  durationMs?: number;
  /** The stage's journaled result, its scalar fields as `key=value` (nested one level: `a.b=v`). */
  detail?: string;
  error?: string;
  /** Why it was skipped, or who interrupted it. */
  reason?: string;
}

export interface SideSample {
  requests: number;
  errors: number;
  p50Ms?: number;
  p99Ms?: number;
}

/** One `ramp-sample` record: what each side served over (from, to]. */
export interface ReportSample {
  from: number;
  to: number;
  weight: number;
  target: SideSample;
  source: SideSample;
  replicationLagMs?: number;
}

export interface Scorecard {
  /** Null when the journal holds no `ramp-sample` (no ramp ran, or a journal from before samples). */
  failedRequests: { target: number; source: number; requests: { target: number; source: number }; samples: number } | null;
  failures: FailureReport[];
  /** Over failures Ferry detected (kinds `gate` and `automatic`) that have the number; null when none. */
  mttdMs: MeanOf | null;
  mttrMs: MeanOf | null;
  targetShare: TargetShare | null;
  parity: ParitySummary;
  writePauses: WritePause[];
  /** Per stage name over all slices: attempts, and their durations. */
  stageDurations: Array<{ stage: string; attempts: number; totalMs: number; maxMs: number; meanMs: number }>;
}

export interface MeanOf {
  mean: number;
  min: number;
  max: number;
  count: number;
}

/**
 * One failure and how users were taken off it. `gate`: the ramp's judge rolled the weight
 * back (`rolled-back`: onset, detection and weight-zero times). `automatic`: a failed stage
 * made `rollback.onFailure: automatic` take the slice back (`rollback-slice`, reason
 * automatic). `requested`: `ferry rollback` (a person's decision, not a detection).
 */
export interface FailureReport {
  slice: string;
  kind: 'gate' | 'automatic' | 'requested';
  onsetAt?: number;
  detectedAt: number;
  /** When the target weight was read back at 0 (gate), or users were back on the source (rollback-slice). */
  weightZeroAt?: number;
  mttdMs?: number;
  mttrMs?: number;
  weightBefore?: number;
  step?: number;
  reason: string;
  /** The gates that failed (gate kind). */
  gates?: Array<{ gate: string; verdict: string; reason: string }>;
  /** A `gate` failure's slice rollback by `rollback.onFailure: automatic` that followed it (not counted again). */
  followedBy?: { kind: 'automatic'; at: number; recoveryMs?: number; sourceReadyMs?: number };
}

export interface TargetShare {
  slices: Array<{
    slice: string;
    windowStart: number;
    windowEnd: number;
    plannedMs: number;
    /** False when the run's journal ends before the window does (an unfinished run): the shares cover up to the last record. */
    complete: boolean;
    /** Time-weighted mean of the plan's step weights over the window, 0–1. */
    plannedShare: number;
    /** Time-weighted mean of the journaled target weight over the window, 0–1. */
    weightShare: number;
    /** Target requests ÷ all requests of the ramp samples that ended inside the window, 0–1; absent without samples. */
    requestShare?: number;
    weightAtWindowEnd: number;
    /** When the weight was first journaled at 100 %. */
    fullAt?: number;
    /** The slice was at 100 % by the window's end. */
    fullInWindow: boolean;
  }>;
  /** All slices together: requests summed; weights averaged by planned window length. */
  overall: { plannedShare: number; weightShare: number; requestShare?: number; fullInWindow: number; slices: number };
}

export interface ParitySummary {
  checks: Array<{ slice: string; at: number; check: 'parity-stage' | 'cutover-final'; ok: boolean; rows?: number; rowsPerSecond?: number; differences?: number; transientDifferences?: number }>;
  found: number;
  repaired: number;
  outstanding: number;
}

export interface WritePause {
  slice: string;
  at: number;
  kind: 'cutover' | 'failback';
  writePauseMs: number;
  maxWritePauseMs?: number;
  pauseOverLimitMs?: number;
  /** Freeze attempts given back before the one that held (their pauses are not in writePauseMs). */
  givenBack?: number;
}

export interface BridgeReport {
  key: string;
  callee?: string;
  callers: string[];
  provider?: string;
  createdAt: number;
  removedAt?: number;
  replacedAt?: number;
  warnings: string[];
}
