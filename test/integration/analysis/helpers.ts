import { startLabPrometheus, type LabPrometheus, type ScrapeJob } from '../../../src/lab/prometheus.js';
import { spawnListening } from '../../helpers/process.js';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** A lab backend process whose error rate and latency a test can change at a known instant. */
export interface LabBackend {
  name: string;
  url: string;
  /** Changes behaviour; resolves with the epoch ms at which the backend applied it. */
  set(change: { errorRate?: number; latencyFactor?: number }): Promise<number>;
  kill(): Promise<void>;
}

const script = fileURLToPath(new URL('./fixtures/backend.mjs', import.meta.url));

export async function startLabBackend(name: string, args: string[] = []): Promise<LabBackend> {
  const { child, port } = await spawnListening(script, [name, ...args], ['ignore', 'pipe', 'inherit', 'ipc']);
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    async set(change) {
      const reply = once(child, 'message') as Promise<[{ appliedAt: number }]>;
      child.send(change);
      return (await reply)[0].appliedAt;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/**
 * Bounded open-loop load: `rate` requests per second for at most `durationMs` (and at most
 * rate × duration requests), through `send`; counts what users saw.
 */
export async function driveLoad(
  send: () => Promise<number>,
  rate: number,
  durationMs: number,
  shouldStop: () => boolean,
): Promise<{ requests: number; failed: number; durationMs: number }> {
  const started = Date.now();
  const maxRequests = Math.ceil((rate * durationMs) / 1000);
  const stats = { requests: 0, failed: 0, durationMs: 0 };
  const inFlight = new Set<Promise<void>>();
  const tickMs = 10;
  let issued = 0;
  while (issued < maxRequests && Date.now() - started < durationMs && !shouldStop()) {
    const due = Math.min(maxRequests, Math.floor(((Date.now() - started) * rate) / 1000));
    while (issued < due && inFlight.size < 256) {
      issued++;
      const p: Promise<void> = send()
        .then((status) => {
          stats.requests++;
          if (status >= 500 || status === 0) stats.failed++;
        })
        .catch(() => {
          stats.requests++;
          stats.failed++;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  await Promise.all(inFlight);
  stats.durationMs = Date.now() - started;
  return stats;
}

/** A free loopback port, asked of the OS. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export type PrometheusProcess = LabPrometheus;
export type { ScrapeJob };

/** The lab's Prometheus (src/lab/prometheus.ts) scraping one `host:port` (job ferry-router) or the given jobs. */
export async function startPrometheus(scrape: string | ScrapeJob[], scrapeIntervalMs: number): Promise<PrometheusProcess> {
  return startLabPrometheus(typeof scrape === 'string' ? [{ job: 'ferry-router', targets: [scrape] }] : scrape, scrapeIntervalMs);
}
