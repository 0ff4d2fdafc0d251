/**
 * The `gates` block of a slice in the MigrationPlan, and the `analysis` block that tunes the
 * judge. The plan schema imports these; they are the single source of the gate types.
 * Rates are fractions (0.01 = 1 %); durations are strings like `500ms`, `2s`, `1m`.
 */
import { z } from 'zod';

export const durationSchema = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration like 500ms, 2s, 1m or 1h')
  .describe('Duration: a number followed by ms, s, m or h.');

const rate = z.number().min(0).max(1);

export const errorRateGateSchema = z
  .object({
    max: rate.optional().describe('Highest error rate the target may have (fraction of requests with status ≥ 500 or no response).'),
    maxIncrease: rate.optional().describe('Highest allowed target-minus-source error rate, e.g. 0.01 for one percentage point.'),
  })
  .strict()
  .refine((gate) => gate.max !== undefined || gate.maxIncrease !== undefined, { message: 'set max, maxIncrease or both' });

export const latencyGateSchema = z
  .object({
    percentile: z.number().gt(0).lt(100).describe('Which percentile, e.g. 99 for p99.'),
    max: durationSchema.optional().describe('Highest allowed target latency at this percentile.'),
    maxIncrease: z.number().min(0).optional().describe('Highest allowed relative increase over the source at this percentile, e.g. 0.2 for +20 %.'),
  })
  .strict()
  .refine((gate) => gate.max !== undefined || gate.maxIncrease !== undefined, { message: 'set max, maxIncrease or both' });

export const promqlGateSchema = z
  .object({
    name: z.string().min(1).describe('Name shown in verdicts and the journal.'),
    query: z.string().min(1).describe('PromQL expression returning one number; `$target` and `$source` are replaced by the backend names.'),
    max: z.number().optional().describe('Fail when the value is above this.'),
    min: z.number().optional().describe('Fail when the value is below this.'),
  })
  .strict()
  .refine((gate) => gate.max !== undefined || gate.min !== undefined, { message: 'set max, min or both' });

export const shadowMismatchGateSchema = z
  .object({ maxRate: rate.describe('Highest fraction of mirrored requests whose responses may differ.') })
  .strict();

export const replicationLagGateSchema = z
  .object({ max: durationSchema.describe('Highest replication lag, measured in time (heartbeat or replay_lag).') })
  .strict();

export const dataParityGateSchema = z
  .object({ required: z.boolean().default(true).describe('The last parity check must have found no difference.') })
  .strict();

export const gatesSchema = z
  .object({
    minRequests: z.number().int().min(1).default(50).describe('Requests each backend must have served in a window before any verdict on it.'),
    errorRate: errorRateGateSchema.optional(),
    latency: z.array(latencyGateSchema).optional(),
    promql: z.array(promqlGateSchema).optional(),
    shadowMismatch: shadowMismatchGateSchema.optional(),
    replicationLag: replicationLagGateSchema.optional(),
    dataParity: dataParityGateSchema.optional(),
  })
  .strict()
  .describe('Conditions a traffic step is judged on, target against source.');

export const analysisSchema = z
  .object({
    alpha: z
      .number()
      .gt(0)
      .lt(0.5)
      .default(0.001)
      .describe('Probability budget for a false rollback over the whole ramp of a slice; split over steps, gates and looks.'),
    interval: durationSchema.default('250ms').describe('How often the judge looks at the metrics.'),
    maxExtensions: z.number().int().min(0).default(2).describe('How many times an inconclusive step is held for another window before onInconclusive applies.'),
    onInconclusive: z.enum(['hold', 'advance', 'rollback']).default('hold').describe('What to do with a step still inconclusive after its extensions: wait for approval, move on, or roll back.'),
    latencySampleCap: z.number().int().min(50).default(1000).describe('Most latency observations per backend per window the rank test uses (evenly thinned).'),
    consecutiveErrorLimit: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe('Looks in a row whose metrics query may fail before the judge fails the step (weight back to 0): it cannot see the target. Each failure is shown as "query failed: …".'),
  })
  .strict()
  .describe('How the sequential judge runs.');

export type Gates = z.output<typeof gatesSchema>;
export type GatesInput = z.input<typeof gatesSchema>;
export type AnalysisConfig = z.output<typeof analysisSchema>;
export type AnalysisConfigInput = z.input<typeof analysisSchema>;
export type ErrorRateGate = z.output<typeof errorRateGateSchema>;
export type LatencyGate = z.output<typeof latencyGateSchema>;
export type PromqlGate = z.output<typeof promqlGateSchema>;

/** Milliseconds of a duration string already validated by `durationSchema`. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!match) throw new RangeError(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}
