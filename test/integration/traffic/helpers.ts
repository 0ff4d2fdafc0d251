import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { spawnListening } from '../../helpers/process.js';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Pool } from 'undici';

/** Real backend processes on loopback for the router tests; each kills its children on stop(). */
export interface BackendProcess {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const script = fileURLToPath(new URL('./fixtures/backend.mjs', import.meta.url));

export async function startBackend(name: string, args: string[] = []): Promise<BackendProcess> {
  const { child, port } = await spawnListening(script, [name, ...args]);
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

const ferryBin = fileURLToPath(new URL('../../../bin/ferry.js', import.meta.url));

export interface RouterProcess {
  url: string;
  /** The TLS listener, when the config has `tls`. */
  tlsUrl?: string;
  adminUrl: string;
  token: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `ferry router --config router.yaml -o json` as its own process, as a user would. */
/**
 * For tests that use the router as a part of a run's stage rather than test it: one process
 * (the router's own tests and the WebSocket ramp run it on a worker per core, its default),
 * which starts in half the time and leaves the shared cores to the clusters under test.
 */
export const ROUTER_AS_COMPONENT = ['--workers', '1'];

export async function startRouterProcess(config: Record<string, unknown>, token = 'test-token-not-secret', args: string[] = []): Promise<RouterProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-router-'));
  const file = join(dir, 'router.yaml');
  writeFileSync(file, stringify({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, ...config }));
  const child = spawn(process.execPath, [ferryBin, 'router', '--config', file, '-o', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_ROUTER_TOKEN: token },
  });
  let out = '';
  let err = '';
  const summary = await new Promise<{ url: string; tlsUrl?: string; adminUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router did not start: ${err}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`router exited with ${code}: ${err}`)));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        const parsed = JSON.parse(out) as { url: string; tlsUrl?: string; adminUrl: string };
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // not complete yet
      }
    });
  });
  return {
    ...summary,
    token,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  failures: string[];
  /** Client-side latency of each successful request, ms. */
  latenciesMs: number[];
  bodies: string[];
}

/**
 * Open-loop load at a fixed rate: requests leave on schedule (whatever is due at each timer
 * tick, never early) whether or not earlier ones finished, bounded by duration; latency is
 * measured from the moment each request was handed to the client pool.
 */
export async function runLoad(options: { url: string; rate: number; durationMs: number; connections?: number; path?: string; keepBodies?: boolean }): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.connections ?? 16 });
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, failures: [], latenciesMs: [], bodies: [] };
  const started = performance.now();
  const total = Math.floor((options.rate * options.durationMs) / 1000);
  const inFlight: Array<Promise<void>> = [];
  while (result.sent < total) {
    const now = performance.now();
    while (result.sent < total && started + (result.sent * 1000) / options.rate <= now) {
      const i = result.sent++;
      const sent = performance.now();
      inFlight.push(
        pool.request({ method: 'GET', path: options.path ?? `/load/${i}` }).then(
          async (response) => {
            const body = await response.body.text();
            if (response.statusCode === 200) {
              result.ok++;
              result.latenciesMs.push(performance.now() - sent);
              if (options.keepBodies) result.bodies.push(body);
            } else {
              result.failed++;
              result.failures.push(`status ${response.statusCode}`);
            }
          },
          (error: Error) => {
            result.failed++;
            result.failures.push((error as NodeJS.ErrnoException).code ?? error.message);
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  await pool.close();
  return result;
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** A loopback port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts a program in the foreground and resolves once `ready()` says so; kills it on stop(). */
export async function startProgram(command: string, args: string[], ready: () => Promise<boolean>, label: string): Promise<{ child: ChildProcess; stop(): Promise<void>; output(): string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}: ${output}`);
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${label} did not become ready: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await once(child, 'exit');
        clearTimeout(timer);
      }
    },
  };
}

/**
 * A real PowerDNS Authoritative server (Debian pdns-server + gsqlite3) on loopback ports,
 * with its HTTP API and LUA records on, and no packet or query cache: every answer comes from
 * the records as they are now (so counts of answers measure weights).
 */
export async function startPowerdnsServer(dir: string, apiKey: string): Promise<{ apiUrl: string; dnsPort: number; stop(): Promise<void> }> {
  const database = join(dir, 'pdns.sqlite3');
  execFileSync('sqlite3', [database], { input: '.read /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql\n' });
  const dnsPort = await freePort();
  const apiPort = await freePort();
  writeFileSync(join(dir, 'pdns.conf'), [
    'launch=gsqlite3', `gsqlite3-database=${database}`,
    'local-address=127.0.0.1', `local-port=${dnsPort}`,
    'api=yes', `api-key=${apiKey}`,
    'webserver=yes', 'webserver-address=127.0.0.1', `webserver-port=${apiPort}`, 'webserver-allow-from=127.0.0.0/8',
    'enable-lua-records=yes',
    'cache-ttl=0', 'query-cache-ttl=0', 'negquery-cache-ttl=0',
    `socket-dir=${dir}`, 'guardian=no', 'daemon=no', 'disable-syslog=yes', 'loglevel=3', '',
  ].join('\n'));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const pdns = await startProgram('/usr/sbin/pdns_server', [`--config-dir=${dir}`], async () => (await fetch(`${apiUrl}/api/v1/servers/localhost`, { headers: { 'x-api-key': apiKey } })).ok, 'pdns_server');
  return { apiUrl, dnsPort, stop: () => pdns.stop() };
}
