/**
 * Connections Ferry opens to a database. Every session pins what changes a row's text form
 * (TimeZone, DateStyle, IntervalStyle, extra_float_digits) so that both sides hash equal data
 * equally, and turns off JIT and parallel workers, which only add latency to 10k-row chunk
 * queries. Errors leave here redacted and wrapped as FerryError.
 */
import pg from 'pg';
import { FerryError } from '../../util/errors.js';
import { Redactor } from '../redact.js';
import type { Side } from '../provider.js';

export interface Endpoint {
  side: Side;
  /** Connection string Ferry uses (URL or key=value). */
  url: string;
  /** Connection string the other server uses to reach this one for replication (defaults to `url`). */
  replicationUrl?: string;
}

/**
 * No statement of Ferry's waits on the database for ever: a lock (DDL behind an application's
 * long transaction) gives up after LOCK_TIMEOUT, any statement after STATEMENT_TIMEOUT
 * (generous: a parity boundary query over a large table is the longest). Steps that can wait
 * on other transactions (slot creation, subscriptions) set tighter limits of their own.
 */
export const STATEMENT_TIMEOUT_MS = 10 * 60_000;
export const LOCK_TIMEOUT_MS = 60_000;

export const SESSION_SETTINGS = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET jit = off; SET max_parallel_workers_per_gather = 0; SET application_name = 'ferry'; SET statement_timeout = ${STATEMENT_TIMEOUT_MS}; SET lock_timeout = ${LOCK_TIMEOUT_MS}`;

export type Db = pg.Client;

export async function connect(endpoint: Endpoint, redactor: Redactor): Promise<Db> {
  // TCP keep-alive: a server that vanishes mid-query (a partition) fails the query instead of hanging it.
  const client = new pg.Client({ connectionString: endpoint.url, connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  // An idle connection that the server terminates must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(SESSION_SETTINGS);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw dbError(error, endpoint, redactor, 'connect', `check that ${redactor.text(endpoint.url)} is reachable and the credentials are right`);
  }
  return client;
}

/**
 * Wraps a driver error as a FerryError naming the side. Everything in it — the statement
 * (`what`: CREATE SUBSCRIPTION carries a conninfo), the server's message, the cause kept for
 * --debug — goes through the redactor before anything is cut to length.
 */
export function dbError(error: unknown, endpoint: Endpoint, redactor: Redactor, what: string, fix?: string): FerryError {
  if (error instanceof FerryError) return redactor.error(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code;
  // The statement that failed, without the BEGIN/SET preamble some statements carry.
  const statement = redactor.text(what).replace(/^\s*(?:(?:begin|set\s[^;]*);\s*)+/i, '').split('\n')[0]!;
  return redactor.error(
    new FerryError('data.postgres', `${endpoint.side} database (${endpoint.url}): ${statement.length > 200 ? `${statement.slice(0, 199)}…` : statement}: ${message}${code ? ` [SQLSTATE ${code}]` : ''}`, {
      fix,
      cause: error,
    }),
  );
}

/** Runs a query and rewraps its error with the side and a redacted message. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Db,
  endpoint: Endpoint,
  redactor: Redactor,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  try {
    return (await db.query<R>(sql, params)).rows;
  } catch (error) {
    throw dbError(error, endpoint, redactor, sql);
  }
}

/** One session to one side, with redacted errors. */
export class PgConn {
  /** One query at a time per session (pg deprecates queueing on the client). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly db: Db,
    readonly endpoint: Endpoint,
    readonly redactor: Redactor,
  ) {}

  q<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const run = this.tail.then(() => query<R>(this.db, this.endpoint, this.redactor, sql, params));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async one<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R> {
    const rows = await this.q<R>(sql, params);
    return rows[0]!;
  }

  end(): Promise<void> {
    return this.db.end().catch(() => undefined);
  }
}

/** A side of the move: a lazily opened main session, and more sessions on demand. */
export class PgSide {
  private main: Promise<PgConn> | undefined;
  private readonly extra = new Set<PgConn>();

  constructor(
    readonly endpoint: Endpoint,
    readonly redactor: Redactor,
  ) {}

  get side(): Side {
    return this.endpoint.side;
  }

  conn(): Promise<PgConn> {
    this.main ??= connect(this.endpoint, this.redactor).then((db) => new PgConn(db, this.endpoint, this.redactor));
    return this.main;
  }

  async q<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.conn()).q<R>(sql, params);
  }

  async one<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R> {
    return (await this.conn()).one<R>(sql, params);
  }

  async open(): Promise<PgConn> {
    const conn = new PgConn(await connect(this.endpoint, this.redactor), this.endpoint, this.redactor);
    this.extra.add(conn);
    return conn;
  }

  async release(conn: PgConn): Promise<void> {
    this.extra.delete(conn);
    await conn.end();
  }

  async close(): Promise<void> {
    const main = this.main;
    this.main = undefined;
    await Promise.all([...[...this.extra].map((conn) => conn.end()), main?.then((conn) => conn.end()).catch(() => undefined)]);
    this.extra.clear();
  }
}
