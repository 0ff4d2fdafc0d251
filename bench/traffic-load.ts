/**
 * Fixed-rate, open-loop HTTP load generator for bench/traffic.bench.ts, run as its own child
 * process: `node --import tsx bench/traffic-load.ts '<json LoadPlan>'`; prints one JSON
 * LoadResult on stdout.
 *
 * Why a separate process and not the bench's own event loop: the bench process also spawns
 * and supervises the servers, runs wrk and keeps its promises and timers; a latency sample
 * taken there includes whatever that loop was busy with when the response arrived, and
 * the old in-process generator measured ~17 ms of "added" p99 that was mostly its own
 * queueing. Here the only work on this loop is sending on schedule and timing responses.
 *
 * Why undici dispatch() with pre-scheduled sends: every request's send time is fixed before
 * the run starts (start + i / rate), independent of earlier responses (open loop, no
 * coordinated omission); a timer wakes at each due time and sends what is due. dispatch()
 * with a callback handler creates no stream per response, so timing is cheap and steady.
 * Latency is measured from the dispatch call to the end of the response, so a request
 * that waits for a free connection (all connections busy because the server is slow)
 * counts its wait; how late the generator itself sent (timer lateness) is reported apart.
 * Percentiles are computed over every sample of every round, not averaged per round.
 */
import { Pool, type Dispatcher } from 'undici';

export interface LoadPlan {
  targets: Array<{ name: string; url: string }>;
  path: string;
  headers: string[];
  rate: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
}

export interface LatencySummary {
  samples: number;
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** p99 of how late requests left compared with their schedule, in ms (the generator's own jitter). */
  sendLatenessP99: number;
}

export type LoadResult = Record<string, LatencySummary>;

/** Longest time one request may take before it counts as failed; bounds every run. */
const REQUEST_TIMEOUT_MS = 5000;

interface RunSamples {
  latencies: number[];
  lateness: number[];
  failed: number;
}

function runAtRate(pool: Pool, plan: LoadPlan, seconds: number, into: RunSamples): Promise<void> {
  const total = Math.round(plan.rate * seconds);
  const interval = 1000 / plan.rate;
  const start = performance.now() + 20;
  let next = 0;
  let outstanding = 0;
  return new Promise((resolve) => {
    let sendingDone = false;
    const maybeDone = (): void => {
      if (sendingDone && outstanding === 0) resolve();
    };
    const send = (scheduled: number): void => {
      const sent = performance.now();
      into.lateness.push(sent - scheduled);
      outstanding++;
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        outstanding--;
        if (ok) into.latencies.push(performance.now() - sent);
        else into.failed++;
        maybeDone();
      };
      let status = 0;
      const handler: Dispatcher.DispatchHandler = {
        onConnect: () => undefined,
        onHeaders: (statusCode: number) => {
          status = statusCode;
          return true;
        },
        onData: () => true,
        onComplete: () => settle(status === 200),
        onError: () => settle(false),
      };
      pool.dispatch({ method: 'GET', path: plan.path, headers: plan.headers, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS }, handler);
    };
    const tick = (): void => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        send(start + next * interval);
        next++;
      }
      if (next < total) {
        setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      } else {
        sendingDone = true;
        maybeDone();
      }
    };
    setTimeout(tick, 20);
  });
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '') as LoadPlan;
  const pools = new Map(plan.targets.map((target) => [target.name, new Pool(target.url, { connections: plan.connections, pipelining: 1 })]));
  const samples = new Map(plan.targets.map((target) => [target.name, { latencies: [], lateness: [], failed: 0 } as RunSamples]));
  // Warm-up: opens the keep-alive connections and lets every server's JIT settle; discarded.
  for (const target of plan.targets) await runAtRate(pools.get(target.name)!, plan, plan.warmupSeconds, { latencies: [], lateness: [], failed: 0 });
  // Many short interleaved rounds, the order rotating each round: a burst of other work on
  // this shared machine (seconds long) then falls on every target alike instead of on
  // whichever target happened to be running.
  for (let round = 0; round < plan.rounds; round++) {
    for (let i = 0; i < plan.targets.length; i++) {
      const target = plan.targets[(round + i) % plan.targets.length]!;
      await runAtRate(pools.get(target.name)!, plan, plan.seconds, samples.get(target.name)!);
    }
  }
  await Promise.all([...pools.values()].map((pool) => pool.destroy()));
  const result: LoadResult = {};
  for (const [name, run] of samples) {
    const sorted = Float64Array.from(run.latencies).sort();
    const late = Float64Array.from(run.lateness).sort();
    const list = Array.from(sorted);
    result[name] = {
      samples: sorted.length,
      failed: run.failed,
      p50: percentile(list, 0.5),
      p90: percentile(list, 0.9),
      p99: percentile(list, 0.99),
      p999: percentile(list, 0.999),
      max: list[list.length - 1] ?? Number.NaN,
      sendLatenessP99: percentile(Array.from(late), 0.99),
    };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
