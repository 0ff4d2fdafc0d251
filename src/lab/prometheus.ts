import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '../util/errors.js';
import { freePort } from './workloads/ports.js';

export interface ScrapeJob {
  job: string;
  /** host:port of each target. */
  targets: string[];
  metricsPath?: string;
  /** Labels Prometheus adds to every series of the job (e.g. `cluster: source`). */
  labels?: Record<string, string>;
}

export interface LabPrometheus {
  /** http://127.0.0.1:PORT — what a plan's `spec.metrics.url` names. */
  url: string;
  stop(): Promise<void>;
}

const BINARY = '/usr/bin/prometheus';

/**
 * A real Prometheus (Debian's `prometheus` package) on loopback for the lab: the judge of a
 * lab run reads metrics exactly as on a real cluster, through PromQL. Its data lives in a
 * temporary directory removed on stop.
 */
export async function startLabPrometheus(jobs: ScrapeJob[], scrapeIntervalMs: number): Promise<LabPrometheus> {
  if (!existsSync(BINARY)) throw new FerryError('lab.prometheus', `${BINARY} is not installed`, { fix: 'run `bash scripts/setup.sh` (it installs Debian\'s prometheus package)' });
  const dir = mkdtempSync(join(tmpdir(), 'ferry-prometheus-'));
  const interval = `${scrapeIntervalMs}ms`;
  const jobText = jobs
    .map((job) =>
      `  - job_name: ${JSON.stringify(job.job)}\n    scrape_interval: ${interval}\n    scrape_timeout: ${interval}\n` +
      (job.metricsPath ? `    metrics_path: ${JSON.stringify(job.metricsPath)}\n` : '') +
      `    static_configs:\n      - targets: ${JSON.stringify(job.targets)}\n` +
      (job.labels ? `        labels: ${JSON.stringify(job.labels)}\n` : ''),
    )
    .join('');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\nscrape_configs:\n${jobText}`);
  const port = await freePort('127.0.0.1');
  const child = spawn(BINARY, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return { url, stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new FerryError('lab.prometheus', `Prometheus did not become ready: ${stderr.trim().split('\n').at(-1) ?? 'no output'}`, { fix: 'run `prometheus --version`; check that /tmp is writable' });
}
