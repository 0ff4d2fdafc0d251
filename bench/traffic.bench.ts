/**
 * The embedded router against a direct connection and against HAProxy, measured in the same
 * run on the same origin: throughput (wrk, closed loop) with the CPU each proxy process spent
 * per request, and latency at a fixed 2,000 req/s (open loop, from a separate generator
 * process: bench/traffic-load.ts says why). Targets from issue 5: added p99 < 1 ms at
 * 2,000 req/s, throughput ≥ 0.5× HAProxy's. The origin is a second HAProxy answering a fixed
 * 100-byte JSON body itself, so the origin is never the bottleneck of what is measured.
 *
 * HAProxy runs twice with the same features as the router (weights, a sticky cookie,
 * per-server stats), with `nbthread 1` and `nbthread 2`, and the router twice, with
 * `--workers 1` and `--workers 2` (issue 21): each is judged against HAProxy at the same
 * thread count, measured in the same run. A third router with 2 workers and node:cluster's
 * round-robin scheduling (the primary accepts and hands connections on) is measured beside
 * the default (SCHED_NONE: the workers accept themselves). Every run is bounded: wrk by -d and
 * a kill timeout, the generator by its own per-request timeout and a kill timeout.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { report, section } from './report.js';
import type { LoadPlan, LoadResult } from './traffic-load.js';

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

/** The one cookie every client sends: a user id for the router, source's server cookie for HAProxy. */
const USER = '3f2a9c1d5e7b8a60';
const COOKIE = `ferry_user=${USER}`;
const HAPROXY_THREADS = [1, 2] as const;

interface Targets {
  urls: { direct: string; haproxy1: string; haproxy2: string; floor: string; router1: string; router2: string; router2rr: string; mirroring: string };
  /** Processes whose CPU time (with their children's: the router's workers) is read around each throughput run. */
  pids: { haproxy1: number; haproxy2: number; floor: number; router1: number; router2: number; router2rr: number };
}

function haproxyConfig(port: number, originPort: number, threads: number): string {
  // The HAProxy under test does what the router does: weights, a sticky cookie, per-server stats.
  // The client's cookie names the source server, so HAProxy (like the router, whose user
  // already has a cookie) routes by cookie and inserts no Set-Cookie.
  return `global
    nbthread ${threads}
    stats socket ${join(dir, `admin-${threads}.sock`)} mode 600 level admin
defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:${port}
    default_backend be_app
backend be_app
    balance roundrobin
    cookie ferry_user insert indirect nocache
    http-reuse always
    server source 127.0.0.1:${originPort} weight 100 cookie ${USER}
    server target 127.0.0.1:${originPort} weight 0 cookie t
`;
}

async function startAll(): Promise<Targets> {
  const originPort = await freePort();
  const proxyPorts = { 1: await freePort(), 2: await freePort() };
  const routerPorts = { router1: await freePort(), router2: await freePort(), router2rr: await freePort() };
  const adminPorts = { router1: await freePort(), router2: await freePort(), router2rr: await freePort() };
  const mirrorPort = await freePort();
  const mirrorAdminPort = await freePort();
  const floorPort = await freePort();
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
  for (const threads of HAPROXY_THREADS) writeFileSync(join(dir, `proxy-${threads}.cfg`), haproxyConfig(proxyPorts[threads], originPort, threads));
  for (const name of ['router1', 'router2', 'router2rr'] as const) {
    writeFileSync(join(dir, `${name}.yaml`), stringify({
      listen: `127.0.0.1:${routerPorts[name]}`,
      admin: { listen: `127.0.0.1:${adminPorts[name]}` },
      backends: { source: { url: `http://127.0.0.1:${originPort}` }, target: { url: `http://127.0.0.1:${originPort}` } },
      routes: [{ name: 'bench', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'cookie', name: 'ferry_user' } }],
    }));
  }
  // The same router with 10% of requests mirrored to the target: the primary's latency must not notice.
  writeFileSync(join(dir, 'router-mirror.yaml'), stringify({
    listen: `127.0.0.1:${mirrorPort}`,
    admin: { listen: `127.0.0.1:${mirrorAdminPort}` },
    backends: { source: { url: `http://127.0.0.1:${originPort}` }, target: { url: `http://127.0.0.1:${originPort}` } },
    routes: [{ name: 'bench', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'cookie', name: 'ferry_user' }, mirror: { enabled: true, percent: 10 } }],
  }));
  start('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'origin.cfg')]);
  const haproxy1 = start('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'proxy-1.cfg')]);
  const haproxy2 = start('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'proxy-2.cfg')]);
  const floor = start(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./traffic-floor.ts', import.meta.url)), String(floorPort), `http://127.0.0.1:${originPort}`]);
  const ferry = fileURLToPath(new URL('../bin/ferry.js', import.meta.url));
  const router1 = start(process.execPath, [ferry, 'router', '--workers', '1', '--config', join(dir, 'router1.yaml')]);
  const router2 = start(process.execPath, [ferry, 'router', '--workers', '2', '--config', join(dir, 'router2.yaml')]);
  const router2rr = start(process.execPath, [ferry, 'router', '--workers', '2', '--config', join(dir, 'router2rr.yaml')], { ...process.env, NODE_CLUSTER_SCHED_POLICY: 'rr' });
  start(process.execPath, [ferry, 'router', '--workers', '1', '--config', join(dir, 'router-mirror.yaml')]);
  const urls = {
    direct: `http://127.0.0.1:${originPort}`,
    haproxy1: `http://127.0.0.1:${proxyPorts[1]}`,
    haproxy2: `http://127.0.0.1:${proxyPorts[2]}`,
    floor: `http://127.0.0.1:${floorPort}`,
    router1: `http://127.0.0.1:${routerPorts.router1}`,
    router2: `http://127.0.0.1:${routerPorts.router2}`,
    router2rr: `http://127.0.0.1:${routerPorts.router2rr}`,
    mirroring: `http://127.0.0.1:${mirrorPort}`,
  };
  for (const [name, url] of Object.entries(urls)) await waitFor(() => up(url), name);
  return { urls, pids: { haproxy1: haproxy1.pid!, haproxy2: haproxy2.pid!, floor: floor.pid!, router1: router1.pid!, router2: router2.pid!, router2rr: router2rr.pid! } };
}

/** User + system CPU time so far of a process and its live children (a router's workers), in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = (Number(fields[11]) + Number(fields[12])) * 10;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // no children file: a single process
  }
  return own + children.reduce((sum, child) => sum + cpuMs(child), 0);
}

/** wrk, closed loop: requests per second at saturation, and how many requests were answered. */
async function wrk(url: string, seconds: number): Promise<{ rps: number; requests: number }> {
  const { stdout } = await promisify(execFile)('wrk', ['-t2', '-c64', `-d${seconds}s`, '-H', `Cookie: ${COOKIE}`, `${url}/bench`], { timeout: (seconds + 20) * 1000 });
  if (/Non-2xx|Socket errors/.test(stdout)) process.stdout.write(`  (wrk reported errors for ${url}: ${stdout.split('\n').filter((l) => /Non-2xx|Socket errors/.test(l)).join('; ')})\n`);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0), requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0) };
}

/** Runs the open-loop generator (bench/traffic-load.ts) in its own process; killed if it overruns. */
async function latencyRuns(plan: LoadPlan): Promise<LoadResult> {
  const generator = fileURLToPath(new URL('./traffic-load.ts', import.meta.url));
  const budgetMs = (plan.targets.length * (plan.warmupSeconds + plan.rounds * (plan.seconds + 6)) + 30) * 1000;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', generator, JSON.stringify(plan)], { timeout: budgetMs, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as LoadResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const { urls, pids } = await startAll();
  const throughputTargets = ['direct', 'haproxy1', 'haproxy2', 'floor', 'router1', 'router2', 'router2rr'] as const;
  type ThroughputTarget = (typeof throughputTargets)[number];
  // Warm up JIT (the router's first seconds run through tsx's compiler) and connection pools.
  for (const name of throughputTargets) await wrk(urls[name], 2);

  const rounds = 4;
  const throughput = Object.fromEntries(throughputTargets.map((name) => [name, [] as number[]])) as Record<ThroughputTarget, number[]>;
  const cpu = Object.fromEntries(throughputTargets.filter((name) => name !== 'direct').map((name) => [name, { ms: 0, requests: 0 }])) as Record<Exclude<ThroughputTarget, 'direct'>, { ms: number; requests: number }>;
  for (let round = 0; round < rounds; round++) {
    // Interleaved so that noise from other work on the machine falls on all of them alike.
    for (const name of throughputTargets) {
      const before = name === 'direct' ? 0 : cpuMs(pids[name]);
      const result = await wrk(urls[name], 3);
      throughput[name].push(result.rps);
      if (name !== 'direct') {
        cpu[name].ms += cpuMs(pids[name]) - before;
        cpu[name].requests += result.requests;
      }
    }
  }

  const latencyTargets = ['direct', 'haproxy1', 'haproxy2', 'router1', 'router2', 'mirroring'] as const;
  const connections = 4;
  const latencyRounds = 24;
  const latencySeconds = 0.5;
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const latency = await latencyRuns({
    targets: latencyTargets.map((name) => ({ name, url: urls[name] })),
    path: '/bench',
    headers: ['cookie', COOKIE],
    rate: 2000,
    seconds: latencySeconds,
    warmupSeconds: 1,
    rounds: latencyRounds,
    connections,
  });

  section(`Throughput (wrk -t2 -c64, 100-byte JSON, keep-alive; median of ${rounds} interleaved 3 s runs)`);
  process.stdout.write('  HAProxy 2.6 with the router\'s features (weights, sticky cookie, per-server stats) at nbthread 1 and 2; the router at\n  --workers 1 and 2 (node:cluster, workers accept from the shared socket); each judged against HAProxy at the same thread count.\n  wrk, the origin and the proxy share this machine\'s cores: the ratios are what a proxy gets of a loaded machine.\n');
  const rps = Object.fromEntries(throughputTargets.map((name) => [name, median(throughput[name])])) as Record<ThroughputTarget, number>;
  report({ name: 'direct to origin', value: rps.direct, unit: 'req/s' });
  report({ name: 'through minimal Node proxy (floor: node:http + undici)', value: rps.floor, unit: 'req/s', compare: { kind: 'reference', label: 'HAProxy nbthread 1', value: rps.haproxy1, lowerIsBetter: false } });
  report({ name: 'through HAProxy nbthread 1', value: rps.haproxy1, unit: 'req/s', compare: { kind: 'reference', label: 'direct', value: rps.direct, lowerIsBetter: false } });
  report({ name: 'through ferry router --workers 1', value: rps.router1, unit: 'req/s', compare: { kind: 'reference', label: 'HAProxy nbthread 1', value: rps.haproxy1, lowerIsBetter: false } });
  report({ name: 'through HAProxy nbthread 2', value: rps.haproxy2, unit: 'req/s', compare: { kind: 'reference', label: 'direct', value: rps.direct, lowerIsBetter: false } });
  report({ name: 'through ferry router --workers 2', value: rps.router2, unit: 'req/s', compare: { kind: 'reference', label: 'HAProxy nbthread 2', value: rps.haproxy2, lowerIsBetter: false } });
  report({ name: 'through ferry router --workers 2, round-robin accept', value: rps.router2rr, unit: 'req/s', compare: { kind: 'reference', label: 'HAProxy nbthread 2', value: rps.haproxy2, lowerIsBetter: false } });
  report({ name: 'router 1 worker / HAProxy nbthread 1 throughput', value: rps.router1 / rps.haproxy1, unit: '×', compare: { kind: 'target', label: '≥ 0.5×', value: 0.5, lowerIsBetter: false } });
  report({ name: 'router 2 workers / HAProxy nbthread 2 throughput', value: rps.router2 / rps.haproxy2, unit: '×', compare: { kind: 'target', label: '≥ 0.5×', value: 0.5, lowerIsBetter: false } });
  report({ name: 'router 2 workers / router 1 worker throughput', value: rps.router2 / rps.router1, unit: '×' });
  const perRequest = (name: keyof typeof cpu) => (cpu[name].requests > 0 ? (cpu[name].ms * 1000) / cpu[name].requests : Number.NaN);
  section('CPU time per proxied request (user + system of the proxy\'s processes, all throughput runs; less noisy than req/s)');
  report({ name: 'HAProxy nbthread 1', value: perRequest('haproxy1'), unit: 'µs' });
  report({ name: 'HAProxy nbthread 2', value: perRequest('haproxy2'), unit: 'µs', compare: { kind: 'reference', label: 'nbthread 1', value: perRequest('haproxy1'), lowerIsBetter: true } });
  report({ name: 'minimal Node proxy (floor)', value: perRequest('floor'), unit: 'µs', compare: { kind: 'reference', label: 'HAProxy nbthread 1', value: perRequest('haproxy1'), lowerIsBetter: true } });
  report({ name: 'ferry router --workers 1', value: perRequest('router1'), unit: 'µs', compare: { kind: 'reference', label: 'HAProxy nbthread 1', value: perRequest('haproxy1'), lowerIsBetter: true } });
  report({ name: 'ferry router --workers 2', value: perRequest('router2'), unit: 'µs', compare: { kind: 'reference', label: 'HAProxy nbthread 2', value: perRequest('haproxy2'), lowerIsBetter: true } });
  report({ name: 'ferry router --workers 2, round-robin accept', value: perRequest('router2rr'), unit: 'µs', compare: { kind: 'reference', label: 'HAProxy nbthread 2', value: perRequest('haproxy2'), lowerIsBetter: true } });
  report({ name: 'ferry router 1 worker / minimal Node proxy', value: perRequest('router1') / perRequest('floor'), unit: '×', compare: { kind: 'reference', label: 'floor', value: 1, lowerIsBetter: true } });

  section(`Latency at 2,000 req/s (open loop from a separate process, ${connections} keep-alive connections, ${latencyRounds}×${latencySeconds} s per target interleaved; percentiles over all samples)`);
  const l = latency;
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`  machine load average before/after: ${loadBefore} / ${loadAfter} (2 cores shared; above ~3 the figures below measure the queue for a core)\n`);
  const sendLate = Math.max(...latencyTargets.map((name) => l[name]!.sendLatenessP99));
  process.stdout.write(`  samples per target: ${latencyTargets.map((name) => `${name} ${l[name]!.samples}`).join(', ')}; generator send lateness p99 ≤ ${sendLate.toFixed(2)} ms (not in the figures)\n`);
  report({ name: 'direct p50', value: l.direct!.p50, unit: 'ms' });
  report({ name: 'direct p99', value: l.direct!.p99, unit: 'ms' });
  report({ name: 'router 1 worker p50', value: l.router1!.p50, unit: 'ms', compare: { kind: 'reference', label: 'direct', value: l.direct!.p50, lowerIsBetter: true } });
  report({ name: 'router 1 worker p99', value: l.router1!.p99, unit: 'ms', compare: { kind: 'reference', label: 'HAProxy nbthread 1', value: l.haproxy1!.p99, lowerIsBetter: true } });
  report({ name: 'router 2 workers p99', value: l.router2!.p99, unit: 'ms', compare: { kind: 'reference', label: 'HAProxy nbthread 2', value: l.haproxy2!.p99, lowerIsBetter: true } });
  report({ name: 'router 1 worker p99.9', value: l.router1!.p999, unit: 'ms', compare: { kind: 'reference', label: 'direct', value: l.direct!.p999, lowerIsBetter: true } });
  report({ name: 'router 2 workers p99.9', value: l.router2!.p999, unit: 'ms', compare: { kind: 'reference', label: 'direct', value: l.direct!.p999, lowerIsBetter: true } });
  const added = (name: 'haproxy1' | 'haproxy2' | 'router1' | 'router2') => l[name]!.p99 - l.direct!.p99;
  report({ name: 'router 1 worker added p99', value: added('router1'), unit: 'ms', compare: { kind: 'reference', label: 'HAProxy nbthread 1 added p99', value: added('haproxy1'), lowerIsBetter: true } });
  report({ name: 'router 2 workers added p99', value: added('router2'), unit: 'ms', compare: { kind: 'reference', label: 'HAProxy nbthread 2 added p99', value: added('haproxy2'), lowerIsBetter: true } });
  report({ name: 'router 1 worker added p99 (target)', value: added('router1'), unit: 'ms', compare: { kind: 'target', label: '< 1 ms', value: 1, lowerIsBetter: true } });
  report({ name: 'router 2 workers added p99 (target)', value: added('router2'), unit: 'ms', compare: { kind: 'target', label: '< 1 ms', value: 1, lowerIsBetter: true } });
  report({ name: 'router p99 with 10% mirrored to the target', value: l.mirroring!.p99, unit: 'ms', compare: { kind: 'target', label: 'within 10% of no mirroring', value: l.router1!.p99 * 1.1, lowerIsBetter: true } });
  const failed = latencyTargets.reduce((sum, name) => sum + l[name]!.failed, 0);
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
