/**
 * A throw-away PostgreSQL 15 server for tests, the lab and the demo: initdb + pg_ctl from the
 * machine's binaries, on a free loopback port, data and unix socket in one temp directory,
 * configured for logical replication. PostgreSQL refuses to run as root, so when we are root
 * the server runs as the system user `postgres` (spawn with its uid/gid).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '../../util/errors.js';

export const POSTGRES_BIN = process.env.FERRY_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface LocalPostgres {
  host: string;
  port: number;
  /** Superuser name. */
  user: string;
  password: string;
  database: string;
  /** postgresql://user:password@127.0.0.1:port/database — contains the password: redact before printing. */
  connectionString: string;
  dataDir: string;
  /** Directory of the unix socket (`host=` for psql over the socket). */
  socketDir: string;
  /** The last lines of the server log (to explain a failure). */
  logTail(lines?: number): string;
  /** Stops the server (fast shutdown) and deletes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** Extra postgresql.conf settings; override the defaults below. */
  settings?: Record<string, string | number>;
  /** Trade crash safety for speed (fsync off): right for tests and benchmarks, never for data you keep. */
  durable?: boolean;
  /** Prefix of the temp directory name, to tell servers apart in `ps`. */
  name?: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: "'127.0.0.1'",
  wal_level: 'logical',
  max_replication_slots: 16,
  max_wal_senders: 16,
  max_worker_processes: 16,
  max_logical_replication_workers: 8,
  max_sync_workers_per_subscription: 2,
  max_connections: 100,
  shared_buffers: "'128MB'",
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_timezone: "'UTC'",
  timezone: "'UTC'",
  // The launcher starts at most one apply worker per wal_retrieve_retry_interval (default 5 s):
  // a failback right after a cutover would wait that long for its reverse worker.
  wal_retrieve_retry_interval: "'200ms'",
};

const FAST_SETTINGS: Record<string, string | number> = {
  fsync: 'off',
  full_page_writes: 'off',
  synchronous_commit: 'on',
};

/** Starts a server; retries with another port if the free port was taken in between. */
export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const runAs = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), `${options.name ?? 'ferry-pg'}-`));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const password = randomBytes(12).toString('hex');
  const user = 'postgres';
  const cleanupDir = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (runAs.uid !== undefined) chownSync(dir, runAs.uid, runAs.gid ?? runAs.uid);
    const pwFile = join(dir, 'pwfile');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) chownSync(pwFile, runAs.uid, runAs.gid ?? runAs.uid);
    await run(
      join(POSTGRES_BIN, 'initdb'),
      ['-D', dataDir, '-U', user, `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
      dir,
      runAs,
    );
    rmSync(pwFile, { force: true });
    // Replication connections (subscriptions from another local server) come over TCP too.
    const hba = readFileSync(join(dataDir, 'pg_hba.conf'), 'utf8');
    writeFileSync(join(dataDir, 'pg_hba.conf'), `${hba}\nhost replication all 127.0.0.1/32 scram-sha-256\n`);
  } catch (error) {
    cleanupDir();
    throw error;
  }

  const settings = {
    ...DEFAULT_SETTINGS,
    ...(options.durable ? {} : FAST_SETTINGS),
    unix_socket_directories: `'${dir}'`,
    ...options.settings,
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf = Object.entries({ ...settings, port })
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n');
    writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${conf}\n`);
    if (runAs.uid !== undefined) chownSync(join(dataDir, 'postgresql.auto.conf'), runAs.uid, runAs.gid ?? runAs.uid);
    try {
      await run(join(POSTGRES_BIN, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile], dir, runAs);
    } catch (error) {
      lastError = error;
      continue;
    }
    const server = makeHandle({ dir, dataDir, port, user, password, runAs });
    return server;
  }
  const logTail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n') : '';
  cleanupDir();
  throw new FerryError('data.local-server', `could not start a local PostgreSQL server: ${logTail || String(lastError)}`, {
    fix: `check that PostgreSQL 15 is installed at ${POSTGRES_BIN} (apt-get install postgresql-15) and that /tmp is writable`,
    cause: lastError,
  });
}

function makeHandle(args: { dir: string; dataDir: string; port: number; user: string; password: string; runAs: RunAs }): LocalPostgres {
  const { dir, dataDir, port, user, password, runAs } = args;
  let stopped = false;
  // If the process exits without stop() (a crashed test), do not leave a server behind.
  const onExit = () => killPostmasterSync(dataDir, dir);
  process.once('exit', onExit);
  const database = 'postgres';
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    connectionString: `postgresql://${user}:${password}@127.0.0.1:${port}/${database}`,
    dataDir,
    socketDir: dir,
    logTail(lines = 30) {
      const file = join(dir, 'server.log');
      return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      try {
        await run(join(POSTGRES_BIN, 'pg_ctl'), ['stop', '-m', 'fast', '-w', '-t', '30', '-D', dataDir], dir, runAs);
      } catch {
        killPostmasterSync(dataDir, dir);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Immediate shutdown by signal (SIGQUIT), then the directory goes. Used from `exit` handlers. */
function killPostmasterSync(dataDir: string, dir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    // no pid file: the server is not running.
  }
  rmSync(dir, { recursive: true, force: true });
}

function postgresUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!line) {
    throw new FerryError('data.local-server', 'running as root and there is no `postgres` system user to run PostgreSQL as', {
      fix: 'create one (useradd --system postgres) or run as a non-root user',
    });
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], cwd: string, runAs: RunAs): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      uid: runAs.uid,
      gid: runAs.gid,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', HOME: cwd },
      // pg_ctl's postmaster must not die with our process group's terminal signals.
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command.split('/').pop()} exited with ${code}: ${output.trim().split('\n').slice(-5).join(' ')}`));
    });
  });
}
