/**
 * The faults a lab sample app can be told to inject, shared by the apps and the library
 * that sets them. Kept free of I/O so the apps load nothing else.
 */
export const FAULTS_PATH = '/__ferry/faults';

export interface AppFaults {
  /** Fraction of traffic requests (0–1) answered with `errorStatus` instead of the real response. */
  errorRate: number;
  errorStatus: number;
  /** Added delay, applied to a fraction `latencyRate` (0–1) of traffic requests. */
  latencyMs: number;
  latencyRate: number;
  /** false: readiness checks (readiness probes, /readyz) fail; liveness is unaffected. */
  ready: boolean;
  /** false: liveness checks (liveness/startup probes, /healthz) fail, so the supervisor restarts the container. */
  live: boolean;
  /** Seed for the app's random choices, to replay the same error sequence. */
  seed?: number;
}

export const NO_FAULTS: AppFaults = { errorRate: 0, errorStatus: 500, latencyMs: 0, latencyRate: 1, ready: true, live: true };

function fraction(value: unknown, fallback: number): number {
  const number = Number(value);
  return Number.isFinite(number) ? Math.min(1, Math.max(0, number)) : fallback;
}

/** Accepts a partial or loosely typed body (`readyz: false` is an alias of `ready`). */
export function parseFaults(input: Record<string, unknown>): AppFaults {
  const ready = input.readyz ?? input.ready;
  const status = Number(input.errorStatus);
  const latency = Number(input.latencyMs);
  const faults: AppFaults = {
    errorRate: fraction(input.errorRate, 0),
    errorStatus: Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500,
    latencyMs: Number.isFinite(latency) && latency > 0 ? latency : 0,
    latencyRate: fraction(input.latencyRate, 1),
    ready: ready === undefined ? true : ready !== false && ready !== 'false',
    live: input.live === undefined ? true : input.live !== false && input.live !== 'false',
  };
  if (input.seed !== undefined && Number.isFinite(Number(input.seed))) faults.seed = Number(input.seed);
  return faults;
}
