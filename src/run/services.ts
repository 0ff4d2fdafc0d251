import type { Clock } from '../analysis/clock.js';
import type { MetricsProvider } from '../analysis/metrics-provider.js';
import type { DataProvider } from '../data/provider.js';
import type { TrafficProvider } from '../traffic/provider.js';

/**
 * What a run needs from the outside world for one slice, each behind its provider
 * interface. The CLI builds these from the plan (real clusters, HAProxy, Istio, PostgreSQL);
 * `ferry demo` builds them on the lab. The engine never reaches past them.
 */
export interface SliceServices {
  /** Server-side applies the slice to the target and waits until it is ready; returns a summary for the journal. */
  apply(): Promise<Record<string, unknown>>;
  traffic?: TrafficProvider;
  metrics?: { provider: MetricsProvider; source: string; target: string };
  /** Shadow comparison counters of the slice's mirror, when the traffic provider mirrors. */
  shadowStats?: () => Promise<{ compared: number; mismatched: number } | undefined>;
  data?: DataProvider;
  /**
   * Points the applications' database address (a Service, PgBouncer, the lab's endpoint)
   * at one side; called right after a cutover or a failback has opened that side.
   */
  repointData?(side: 'source' | 'target'): Promise<void>;
  /** Scales the source workloads to zero and retires what the old path needs no more. */
  decommission(): Promise<Record<string, unknown>>;
  /** Undo on the target side for `ferry rollback` (e.g. scale target workloads to zero). */
  retireTarget?(): Promise<Record<string, unknown>>;
}

export interface RunEnvironment {
  clock: Clock;
  servicesFor(slice: string): Promise<SliceServices>;
  /** Stage durations can be shortened for rehearsals and tests (e.g. demo soak of seconds). */
  durations?: { soakMs?: number; shadowMs?: number; stepHoldMs?: number };
  /** Polled between steps; a control request (pause, abort, approve) is journaled when seen. */
  control?: () => Promise<ControlRequest[]>;
  /** Progress callback for the CLI (stderr). */
  onProgress?: (event: { slice: string; stage: string; detail?: string }) => void;
}

export type ControlRequest =
  | { action: 'pause' }
  | { action: 'abort' }
  | { action: 'approve'; slice: string; by: string };
