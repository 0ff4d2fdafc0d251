import type { Clock } from '../analysis/clock.js';
import type { MetricsProvider } from '../analysis/metrics-provider.js';
import type { DataProvider, Side } from '../data/provider.js';
import type { TrafficProvider } from '../traffic/provider.js';
import type { ObservedCaller } from '../analysis/call-telemetry.js';
import type { SliceApplyOptions } from '../apply/slice.js';
import type { RunBridges } from './bridges.js';
import type { SingletonSide, SingletonSwitch } from './singletons.js';
import type { SliceHandover } from '../handover/index.js';

/** What decommission did to the source, journaled so that a late rollback can undo it. */
export interface DecommissionReport {
  /** Workloads scaled to zero, with the replicas each had (`Kind/namespace/name` → replicas). */
  scaledToZero: Record<string, number>;
  /** Objects deleted from the source (`deleteSource`), as `Kind/namespace/name`. */
  deleted: string[];
  replicationObjectsDropped?: number;
  skipped?: string;
}

/**
 * What a run needs from the outside world for one slice, each behind its provider
 * interface. `planEnvironment` builds these from the plan for real clusters (and the lab);
 * the engine never reaches past them.
 */
export interface SliceServices {
  /** Server-side applies the slice to the target and waits until it is ready; returns a summary for the journal. */
  apply(options?: Pick<SliceApplyOptions, 'defer' | 'afterReady'>): Promise<Record<string, unknown>>;
  traffic?: TrafficProvider;
  metrics?: { provider: MetricsProvider; source: string; target: string };
  data?: DataProvider;
  /**
   * Points the applications' database address (`data.clientAccess`: a Service, an
   * ExternalName, a pooler) at one side; called inside the cutover, once that side is open.
   */
  repointData?(side: Side): Promise<void>;
  /**
   * Who called the slice's source workloads in the last `windowSeconds`, from the plan's
   * Prometheus (Istio-shaped call telemetry); absent when the plan has no metrics.
   */
  sourceCallers?(windowSeconds: number, query?: string): Promise<ObservedCaller[]>;
  /** The finest time Prometheus can see, ms: how long a call takes to show in telemetry. */
  telemetryDelayMs?: number;
  /** Retires the source as the plan says (scale to zero, delete); returns what it did. */
  decommission(options: { scaleSourceToZero: boolean; deleteSource: boolean; keepServices?: ReadonlySet<string> }): Promise<DecommissionReport>;
  /**
   * Undoes a decommission for a rollback: the source's replicas as they were, deleted
   * objects re-created (from the target's copies), and waits until they are ready.
   */
  restoreSource(report: DecommissionReport): Promise<Record<string, unknown>>;
  /** Makes `side` the one cluster that runs the slice's CronJobs and singleton workloads (src/run/singletons.ts). */
  switchSingletons?(side: SingletonSide): Promise<SingletonSwitch>;
  /** Undo on the target side for a rollback (scale target workloads to zero). */
  retireTarget(): Promise<Record<string, unknown>>;
  /** Cluster-owned things handed over (src/handover/): GitOps sync suspended at decommission, external-dns ownership at cutover. */
  handover?: SliceHandover;
}

export interface RunEnvironment {
  clock: Clock;
  servicesFor(slice: string): Promise<SliceServices>;
  /** Service bridges for calls between slices on different clusters; absent when the plan turns them off. */
  bridges?: RunBridges;
  /** How many slices of one wave run at once (default 4). */
  parallel?: number;
  /** Polled between steps and inside waits; a control request (pause, abort, approve) is journaled when seen. */
  control?: () => Promise<ControlRequest[]>;
  /** Progress callback for the CLI (stderr). */
  onProgress?: (event: { slice: string; stage: string; detail?: string }) => void;
  /** Releases what `servicesFor` opened (database connections, clients). */
  close?(): Promise<void>;
}

export type ControlRequest =
  /** `by`: who asked, when the asker's identity is known (the dashboard's token); journaled as the actor. */
  | { action: 'pause'; by?: string }
  | { action: 'abort'; by?: string }
  | { action: 'approve'; slice: string; by: string };
