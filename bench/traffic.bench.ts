/**
 * The embedded router against a direct connection and against HAProxy, measured in the same
 * run on the same origin: throughput (wrk, closed loop) and latency at a fixed 2,000 req/s
 * (open loop from this process). Targets from issue 5: added p99 < 1 ms at 2,000 req/s,
 * throughput ≥ 0.5× HAProxy's. The origin is a second HAProxy answering a fixed 100-byte
 * JSON body itself, so the origin is never the bottleneck of what is measured.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { report, section } from './report.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-traffic-bench-'));
const children: ChildProcess[] = [];
const BODY = JSON.stringify({ id: 1, name: 'ferry benchmark response', price: 10, tags: ['a', 'b', 'c'], ok: true, pad: 'xxxxxxx' });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, label: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${label} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function start(command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env: env ?? process.env });
  children.push(child);
  return child;
}

async function up(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.arrayBuffer();
  return response.ok;
}

async function startAll(): Promise<{ direct: string; haproxy: string; router: string; mirroring: string }> {
  const originPort = await freePort();
  const proxyPort = await freePort();
  const routerPort = await freePort();
  const adminPort = await freePort();
  const mirrorPort = await freePort();
  const mirrorAdminPort = await freePort();
  const escaped = BODY.replace(/"/g, '\\"');
  writeFileSync(join(dir, 'origin.cfg'), `global
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend origin
    bind 127.0.0.1:${originPort}
    http-request return status 200 content-type application/json string "${escaped}"
`);
  // The HAProxy under test does what the router does: weights, a sticky cookie, per-server stats.
  writeFileSync(join(dir, 'proxy.cfg'), `global
    stats socket ${join(dir, 'admin.sock')} mode 600 level admin
defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:${proxyPort}
    default_backend be_app
backend be_app
    balance roundrobin
    cookie ferry_user insert indirect nocache
    http-reuse always
    server source 127.0.0.1:${originPort} weight 100 cookie s
    server target 127.0.0.1:${originPort} weight 0 cookie t
`);
  writeFileSync(join(dir, 'router.yaml'), stringify({
    listen: `127.0.0.1:${routerPort}`,
    admin: { listen: `127.0.0.1:${adminPort}` },
    backends: { source: { url: `http://127.0.0.1:${originPort}` }, target: { url: `http://127.0.0.1:${originPort}` } },
    routes: [{ name: 'bench', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'cookie', name: 'ferry_user' } }],
  }));
  // The same router with 10% of requests mirrored to the target: the primary's latency must not notice.
  writeFileSync(join(dir, 'router-mirror.yaml'), stringify({
    listen: `127.0.0.1:${mirrorPort}`,
    admin: { listen: `127.0.0.1:${mirrorAdminPort}` },
    backends: { source: { url: `http://127.0.0.1:${originPort}` }, target: { url: `http://127.0.0.1:${originPort}` } },
    routes: [{ name: 'bench', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'cookie', name: 'ferry_user' }, mirror: { enabled: true, percent: 10 } }],
  }));
  start('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'origin.cfg')]);
  start('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'proxy.cfg')]);
  const ferry = fileURLToPath(new URL('../bin/ferry.js', import.meta.url));
  start(process.execPath, [ferry, 'router', '--config', join(dir, 'router.yaml')]);
  start(process.execPath, [ferry, 'router', '--config', join(dir, 'router-mirror.yaml')]);
  const urls = { direct: `http://127.0.0.1:${originPort}`, haproxy: `http://127.0.0.1:${proxyPort}`, router: `http://127.0.0.1:${routerPort}`, mirroring: `http://127.0.0.1:${mirrorPort}` };
  for (const [name, url] of Object.entries(urls)) await waitFor(() => up(url), name);
  return urls;
}

/** wrk, closed loop: requests per second at saturation. */
async function wrkThroughput(url: string, seconds: number): Promise<number> {
  const { stdout } = await promisify(execFile)('wrk', ['-t2', '-c64', `-d${seconds}s`, '-H', 'Cookie: ferry_user=3f2a9c1d5e7b8a60', `${url}/bench`], { timeout: (seconds + 20) * 1000 });
  const match = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (/Non-2xx|Socket errors/.test(stdout)) process.stdout.write(`  (wrk reported errors for ${url}: ${stdout.split('\n').filter((l) => /Non-2xx|Socket errors/.test(l)).join('; ')})\n`);
  return match ? Number(match[1]) : 0;
}

/**
 * Open loop at a fixed rate: requests leave on schedule (in bursts of whatever is due at each
 * timer tick, never early) whether or not earlier ones finished; latency is measured from
 * the moment each request was handed to the client pool, in ms.
 */
async function latencyAtRate(url: string, rate: number, seconds: number, connections: number): Promise<{ p50: number; p99: number; failed: number }> {
  const pool = new Pool(url, { connections });
  const latencies: number[] = [];
  let failed = 0;
  const total = rate * seconds;
  const inFlight: Array<Promise<void>> = [];
  const started = performance.now();
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && started + (next * 1000) / rate <= now) {
      next++;
      const sent = performance.now();
      inFlight.push(pool.request({ method: 'GET', path: '/bench', headers: { cookie: 'ferry_user=3f2a9c1d5e7b8a60' } }).then(
        async (response) => {
          await response.body.dump();
          if (response.statusCode === 200) latencies.push(performance.now() - sent);
          else failed++;
        },
        () => void failed++,
      ));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), failed };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const urls = await startAll();
  const targets = ['direct', 'haproxy', 'router'] as const;
  // Warm up JIT (the router's first seconds run through tsx's compiler) and connection pools.
  for (const name of targets) await latencyAtRate(urls[name], 2000, 2, 8);
  await latencyAtRate(urls.mirroring, 2000, 2, 8);
  const mirroringP99: number[] = [];

  const rounds = 4;
  const throughput: Record<string, number[]> = { direct: [], haproxy: [], router: [] };
  const p50: Record<string, number[]> = { direct: [], haproxy: [], router: [] };
  const p99: Record<string, number[]> = { direct: [], haproxy: [], router: [] };
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    // Interleaved so that noise from other work on the machine falls on all three alike.
    for (const name of targets) throughput[name]!.push(await wrkThroughput(urls[name], 3));
    for (const name of targets) {
      const result = await latencyAtRate(urls[name], 2000, 2, 8);
      p50[name]!.push(result.p50);
      p99[name]!.push(result.p99);
      failed += result.failed;
    }
    const mirrored = await latencyAtRate(urls.mirroring, 2000, 2, 8);
    mirroringP99.push(mirrored.p99);
    failed += mirrored.failed;
  }

  section(`Throughput (wrk -t2 -c64, 100-byte JSON, keep-alive; median of ${rounds} interleaved runs)`);
  const rps = Object.fromEntries(targets.map((name) => [name, median(throughput[name]!)])) as Record<(typeof targets)[number], number>;
  report({ name: 'direct to origin', value: rps.direct, unit: 'req/s' });
  report({ name: 'through HAProxy 2.6 (weights, sticky cookie)', value: rps.haproxy, unit: 'req/s', compare: { kind: 'reference', label: 'direct', value: rps.direct, lowerIsBetter: false } });
  report({ name: 'through ferry router (weights, sticky cookie, metrics)', value: rps.router, unit: 'req/s', compare: { kind: 'reference', label: 'HAProxy', value: rps.haproxy, lowerIsBetter: false } });
  report({ name: 'router throughput / HAProxy throughput', value: rps.router / rps.haproxy, unit: '×', compare: { kind: 'target', label: '≥ 0.5×', value: 0.5, lowerIsBetter: false } });

  section(`Latency at 2,000 req/s (open loop, 8 connections, ${rounds}×2 s interleaved; median of runs)`);
  const m50 = Object.fromEntries(targets.map((name) => [name, median(p50[name]!)])) as Record<(typeof targets)[number], number>;
  const m99 = Object.fromEntries(targets.map((name) => [name, median(p99[name]!)])) as Record<(typeof targets)[number], number>;
  for (const name of targets) {
    report({ name: `${name} p50`, value: m50[name], unit: 'ms', ...(name === 'direct' ? {} : { compare: { kind: 'reference' as const, label: 'direct', value: m50.direct, lowerIsBetter: true } }) });
    report({ name: `${name} p99`, value: m99[name], unit: 'ms', ...(name === 'direct' ? {} : { compare: { kind: 'reference' as const, label: 'direct', value: m99.direct, lowerIsBetter: true } }) });
  }
  report({ name: 'HAProxy added p99', value: m99.haproxy - m99.direct, unit: 'ms' });
  report({ name: 'router added p99', value: m99.router - m99.direct, unit: 'ms', compare: { kind: 'target', label: '< 1 ms', value: 1, lowerIsBetter: true } });
  report({ name: 'router p99 with 10% mirrored to the target', value: median(mirroringP99), unit: 'ms', compare: { kind: 'target', label: 'within 10% of no mirroring', value: m99.router * 1.1, lowerIsBetter: true } });
  report({ name: 'failed requests (all latency runs)', value: failed, unit: 'requests', compare: { kind: 'target', label: '0', value: 0, lowerIsBetter: true } });
}

try {
  await main();
} finally {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
  }
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
