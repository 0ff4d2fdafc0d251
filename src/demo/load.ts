import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';

/**
 * The demo's customers: a bounded, rate-limited load of shop reads and order writes sent
 * through the router, each user with a sticky cookie. Every answer is recorded, and every
 * acknowledged order (201) is remembered so the scorecard can prove none was lost.
 */
export interface LoadOptions {
  url: string;
  host: string;
  ratePerSecond: number;
  /** Share of requests that are order writes. */
  writeShare: number;
  users: number;
  /** Hard limits: the load stops at whichever comes first. */
  maxSeconds: number;
  maxRequests: number;
}

export interface LoadResult {
  requests: number;
  failed: number;
  failures: Array<{ at: number; status: number | string; path: string }>;
  latenciesMs: number[];
  acknowledgedOrders: number[];
  servedBy: Record<string, number>;
  seconds: number;
}

export interface RunningLoad {
  stop(): Promise<LoadResult>;
  snapshot(): { requests: number; failed: number };
}

export function startLoad(options: LoadOptions): RunningLoad {
  const pool = new Pool(options.url, { connections: 16, pipelining: 1, keepAliveTimeout: 10_000 });
  const result: LoadResult = { requests: 0, failed: 0, failures: [], latenciesMs: [], acknowledgedOrders: [], servedBy: {}, seconds: 0 };
  const started = performance.now();
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / options.ratePerSecond;

  const one = async (n: number): Promise<void> => {
    const user = `user-${n % options.users}`;
    const write = (n * 7919) % 1000 < options.writeShare * 1000;
    // Reads are of things that do not change under the load (so shadow comparisons are fair).
    const known = result.acknowledgedOrders;
    const path = write ? '/orders' : n % 5 === 0 && known.length > 0 ? `/orders/${known[(n * 31) % known.length]}` : '/products/1';
    const t0 = performance.now();
    try {
      const response = await pool.request({
        method: write ? 'POST' : 'GET',
        path,
        headers: {
          host: options.host,
          cookie: `ferry-user=${user}`,
          ...(write ? { 'content-type': 'application/json', 'idempotency-key': randomUUID() } : {}),
        },
        ...(write ? { body: JSON.stringify({ sku: 'MUG-01', quantity: 1 + (n % 3), customer: user }) } : {}),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await response.body.text();
      result.latenciesMs.push(performance.now() - t0);
      const cluster = String(response.headers['x-ferry-cluster'] ?? response.headers['x-ferry-backend'] ?? 'unknown');
      result.servedBy[cluster] = (result.servedBy[cluster] ?? 0) + 1;
      if (response.statusCode >= 500 || (write && response.statusCode !== 201)) {
        result.failed++;
        if (result.failures.length < 200) result.failures.push({ at: performance.now() - started, status: response.statusCode, path });
      } else if (write) {
        const order = JSON.parse(text) as { id?: number | string };
        if (order.id !== undefined) result.acknowledgedOrders.push(Number(order.id));
      }
    } catch (error) {
      result.failed++;
      if (result.failures.length < 200) result.failures.push({ at: performance.now() - started, status: (error as Error).message, path });
    } finally {
      result.requests++;
    }
  };

  let n = 0;
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    const due = Math.floor(elapsed / intervalMs);
    while (!stopped && n < due && n < options.maxRequests && elapsed < options.maxSeconds * 1000) {
      const promise = one(n++);
      inFlight.add(promise);
      void promise.finally(() => inFlight.delete(promise));
    }
  }, 5);

  return {
    snapshot: () => ({ requests: result.requests, failed: result.failed }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
      await pool.close();
      result.seconds = (performance.now() - started) / 1000;
      return result;
    },
  };
}
