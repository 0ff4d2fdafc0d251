/** The stages of one slice, in order (product doc: "Stages of one slice"). */
export const STAGES = ['apply', 'data-sync', 'parity', 'shadow', 'ramp', 'data-cutover', 'soak', 'decommission'] as const;
export type StageName = (typeof STAGES)[number];

export type StageStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface SliceState {
  name: string;
  wave: number;
  stages: Record<StageName, StageStatus>;
  /** Target weight as last journaled (set and read back). */
  weight: number;
  /** Ramp steps already passed (index into the slice's steps). */
  passedSteps: number;
  dataCutOver: boolean;
  rolledBack: boolean;
  /** Gates a held or extended ramp step could not decide, with their reasons (the evidence to look at). */
  openGates?: Array<{ gate: string; verdict: string; reason: string }>;
  /** Times `rollback.onFailure: automatic` took the slice back after a failed stage. */
  automaticRollbacks?: number;
  lastError?: string;
}

export type RunStatus = 'running' | 'paused' | 'waiting-approval' | 'completed' | 'failed' | 'rolled-back' | 'aborted';

export interface RunState {
  id: string;
  plan: string;
  status: RunStatus;
  startedAt?: string;
  endedAt?: string;
  slices: SliceState[];
  /** Slices waiting for `ferry approve`. */
  awaitingApproval: string[];
  approvals: Array<{ slice: string; by: string; at: string }>;
  records: number;
}

/** Journal record types. Each carries `slice` (when about one) and plain data. */
export type RecordType =
  | 'run-started' | 'run-resumed' | 'run-paused' | 'run-completed' | 'run-failed' | 'run-aborted'
  | 'stage-started' | 'stage-completed' | 'stage-skipped' | 'stage-failed' | 'stage-interrupted'
  | 'weight-set' | 'ramp-step-passed' | 'ramp-sample' | 'shadow-sample' | 'lag-sample' | 'rolled-back' | 'traffic-settle' | 'shadow-extended' | 'source-kept'
  | 'approval-requested' | 'approved'
  | 'rollback-started' | 'rollback-slice' | 'rollback-failed' | 'rollback-completed'
  | 'bridge-created' | 'bridge-removed' | 'bridge-replaced' | 'bridge-replace-incomplete' | 'bridge-failed' | 'bridge-kept'
  | 'notifications-undelivered';
