/**
 * API faults for tests and rehearsals: fail a fraction of requests (503 by default, the
 * way an overloaded API server sheds load) and/or add latency, optionally only for some
 * verbs or resources. Randomness is injected so tests can be exact.
 */
export interface ApiFaults {
  /** 0..1: fraction of matching requests that fail. */
  errorRate?: number;
  /** HTTP status of failed requests: 503 (default), 500, 429… */
  errorCode?: number;
  /** Added to every matching request, in milliseconds. */
  latencyMs?: number;
  /** Only these verbs (get, list, watch, create, update, patch, delete, deletecollection); all when empty. */
  verbs?: string[];
  /** Only these resources (plural names such as `deployments`); all when empty. */
  resources?: string[];
}

export interface FaultDecision {
  delayMs: number;
  fail?: { code: number; reason: string; message: string };
}

const REASONS: Record<number, string> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };

export function decideFault(faults: ApiFaults, request: { verb: string; resource: string | undefined }, random: () => number): FaultDecision {
  const verbs = faults.verbs ?? [];
  const resources = faults.resources ?? [];
  const applies = (verbs.length === 0 || verbs.includes(request.verb)) && (resources.length === 0 || (request.resource !== undefined && resources.includes(request.resource)));
  if (!applies) return { delayMs: 0 };
  const delayMs = Math.max(0, faults.latencyMs ?? 0);
  const rate = Math.min(1, Math.max(0, faults.errorRate ?? 0));
  if (rate > 0 && random() < rate) {
    const code = faults.errorCode ?? 503;
    return { delayMs, fail: { code, reason: REASONS[code] ?? 'InternalError', message: `ferry lab fault: injected ${code} for ${request.verb} ${request.resource ?? ''}`.trim() } };
  }
  return { delayMs };
}

export function validateFaults(input: unknown): ApiFaults {
  if (typeof input !== 'object' || input === null) throw new Error('faults must be an object');
  const value = input as Record<string, unknown>;
  const faults: ApiFaults = {};
  if (value.errorRate !== undefined) {
    if (typeof value.errorRate !== 'number' || value.errorRate < 0 || value.errorRate > 1) throw new Error('errorRate must be a number between 0 and 1');
    faults.errorRate = value.errorRate;
  }
  if (value.errorCode !== undefined) {
    if (typeof value.errorCode !== 'number' || value.errorCode < 400 || value.errorCode > 599) throw new Error('errorCode must be an HTTP error status (400-599)');
    faults.errorCode = value.errorCode;
  }
  if (value.latencyMs !== undefined) {
    if (typeof value.latencyMs !== 'number' || value.latencyMs < 0) throw new Error('latencyMs must be a non-negative number');
    faults.latencyMs = value.latencyMs;
  }
  for (const key of ['verbs', 'resources'] as const) {
    if (value[key] !== undefined) {
      if (!Array.isArray(value[key]) || !(value[key] as unknown[]).every((item) => typeof item === 'string')) throw new Error(`${key} must be a list of strings`);
      faults[key] = value[key] as string[];
    }
  }
  return faults;
}
