/**
 * The `traffic.queries` block of a slice: the Prometheus series the judge reads for each side
 * when the provider's defaults (default-queries.ts) do not fit, e.g. a Gateway API
 * implementation other than Istio's, or relabelled metrics. Imported by the plan schema.
 */
import { z } from 'zod';

export const sideQuerySchema = z
  .object({
    requests: z
      .string()
      .min(1)
      .describe('PromQL giving ONE cumulative counter of the requests this side answered, e.g. sum(http_requests_total{service="shop-v2"}). Raw counters, not rate() or increase(): the judge takes differences at its bucket edges.'),
    errors: z
      .string()
      .min(1)
      .describe('PromQL giving ONE cumulative counter of this side\'s failed requests (5xx or no response), e.g. sum(http_requests_total{service="shop-v2",code=~"5.."}).'),
    latency: z
      .string()
      .min(1)
      .optional()
      .describe('PromQL giving the cumulative latency histogram by le, e.g. sum by (le)(http_request_duration_seconds_bucket{service="shop-v2"}). Without it, latency gates stay inconclusive.'),
    latencyUnit: z.enum(['s', 'ms']).optional().describe('Unit of the histogram\'s le bounds: s (default) or ms.'),
  })
  .strict();

export const sideQueriesSchema = z
  .object({ source: sideQuerySchema, target: sideQuerySchema })
  .strict();

export type SideQueryOverride = z.output<typeof sideQuerySchema>;
export type SideQueriesOverride = z.output<typeof sideQueriesSchema>;
