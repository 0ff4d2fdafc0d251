import { parseDuration } from '../analysis/gates-schema.js';
import type { MigrationPlan, Slice } from '../plan/schema.js';

/** A slice's settings with the plan defaults filled in: what the engine actually uses. */
export interface EffectiveSlice {
  name: string;
  steps: number[];
  stepHoldMs: number;
  mirrorPercent: number;
  mirrorMs: number;
  maxMismatchRate: number | undefined;
  gates: MigrationPlan['spec']['defaults']['gates'];
  analysis: MigrationPlan['spec']['defaults']['analysis'];
  approvers: string[];
  soakMs: number;
  copySchema: boolean;
  maxLagMs: number;
  /** The provider kind, and its settings when the plan gives them. */
  provider: string;
  providerSettings: Exclude<MigrationPlan['spec']['defaults']['traffic']['provider'], string> | undefined;
}

export function effectiveSlice(plan: MigrationPlan, slice: Slice): EffectiveSlice {
  const defaults = plan.spec.defaults;
  const traffic = { ...defaults.traffic, ...(slice.traffic ?? {}) };
  const gates = { ...defaults.gates, ...(slice.gates ?? {}) };
  const mirror = traffic.mirror;
  return {
    name: slice.name,
    steps: traffic.steps,
    stepHoldMs: parseDuration(traffic.stepWindow),
    mirrorPercent: mirror?.percent ?? 0,
    mirrorMs: mirror?.duration ? parseDuration(mirror.duration) : parseDuration(traffic.stepWindow),
    maxMismatchRate: gates.shadowMismatch?.maxRate,
    gates,
    analysis: defaults.analysis,
    approvers: slice.approvers ?? [],
    soakMs: parseDuration(slice.decommission?.after ?? defaults.decommission.after),
    copySchema: slice.data?.copySchema ?? true,
    maxLagMs: slice.data?.maxLag ? parseDuration(slice.data.maxLag) : 1000,
    provider: typeof traffic.provider === 'string' ? traffic.provider : traffic.provider.type,
    providerSettings: typeof traffic.provider === 'string' ? undefined : traffic.provider,
  };
}
