import { parseDuration } from '../analysis/gates-schema.js';
import type { MigrationPlan, Slice } from '../plan/schema.js';
import type { StickinessSetting } from '../traffic/provider.js';

/** A slice's settings with the plan defaults filled in: what the engine actually uses. */
export interface EffectiveSlice {
  name: string;
  steps: number[];
  stepHoldMs: number;
  mirror: { percent: number; durationMs: number; allowNonIdempotent: boolean; ignorePaths: string[] };
  stickiness: StickinessSetting | undefined;
  maxMismatchRate: number | undefined;
  gates: MigrationPlan['spec']['defaults']['gates'];
  analysis: MigrationPlan['spec']['defaults']['analysis'];
  approvers: string[];
  soakMs: number;
  copySchema: boolean;
  maxLagMs: number;
  maxWritePauseMs: number;
  /** How long the initial copy may take to catch up before the data-sync stage fails. */
  dataSyncTimeoutMs: number;
  rollback: { onFailure: 'automatic' | 'manual'; keepSourceForMs: number };
  decommission: { scaleSourceToZero: boolean; deleteSource: boolean; requireIdle: boolean; idleQuery?: string };
  /** The provider kind, and its settings when the plan gives them. */
  provider: string;
  providerSettings: Exclude<MigrationPlan['spec']['defaults']['traffic']['provider'], string> | undefined;
}

export function effectiveSlice(plan: MigrationPlan, slice: Slice): EffectiveSlice {
  const defaults = plan.spec.defaults;
  const traffic = { ...defaults.traffic, ...(slice.traffic ?? {}) };
  const gates = { ...defaults.gates, ...(slice.gates ?? {}) };
  const rollback = { ...defaults.rollback, ...(slice.rollback ?? {}) };
  const decommission = { ...defaults.decommission, ...(slice.decommission ?? {}) };
  const mirror = traffic.mirror;
  return {
    name: slice.name,
    steps: traffic.steps,
    stepHoldMs: parseDuration(traffic.stepWindow),
    mirror: {
      percent: mirror?.percent ?? 0,
      durationMs: mirror?.duration ? parseDuration(mirror.duration) : parseDuration(traffic.stepWindow),
      allowNonIdempotent: mirror?.allowNonIdempotent ?? false,
      // The plan takes JSONPath-like `$.a.b`; the router compares dotted paths `a.b`.
      ignorePaths: (mirror?.ignoreJsonPaths ?? []).map((path) => path.replace(/^\$\.?/, '')),
    },
    stickiness: stickinessOf(traffic.stickiness),
    maxMismatchRate: gates.shadowMismatch?.maxRate,
    gates,
    analysis: defaults.analysis,
    approvers: slice.approvers ?? [],
    soakMs: parseDuration(decommission.after),
    copySchema: slice.data?.copySchema ?? true,
    maxLagMs: slice.data?.maxLag ? parseDuration(slice.data.maxLag) : 1000,
    maxWritePauseMs: slice.data?.maxWritePause ? parseDuration(slice.data.maxWritePause) : 1000,
    dataSyncTimeoutMs: 10 * 60_000,
    rollback: { onFailure: rollback.onFailure, keepSourceForMs: parseDuration(rollback.keepSourceFor) },
    decommission: { scaleSourceToZero: decommission.scaleSourceToZero, deleteSource: decommission.deleteSource, requireIdle: decommission.requireIdle, ...(decommission.idleQuery ? { idleQuery: decommission.idleQuery } : {}) },
    provider: typeof traffic.provider === 'string' ? traffic.provider : traffic.provider.type,
    providerSettings: typeof traffic.provider === 'string' ? undefined : traffic.provider,
  };
}

function stickinessOf(stickiness: { cookie?: string | undefined; header?: string | undefined } | undefined): StickinessSetting | undefined {
  if (stickiness?.header) return { mode: 'header', name: stickiness.header };
  if (stickiness?.cookie) return { mode: 'cookie', name: stickiness.cookie };
  return undefined;
}
