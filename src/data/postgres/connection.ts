/**
 * Connections Ferry opens to a database. Every session pins what changes a row's text form
 * (TimeZone, DateStyle, IntervalStyle, extra_float_digits) so that both sides hash equal data
 * equally, and turns off JIT and parallel workers, which only add latency to 10k-row chunk
 * queries. Errors leave here redacted and wrapped as FerryError.
 */
import pg from 'pg';
import { FerryError } from '../../util/errors.js';
import { Redactor, redactUrl } from '../redact.js';
import type { Side } from '../provider.js';

export interface Endpoint {
  side: Side;
  /** Connection string Ferry uses (URL or key=value). */
  url: string;
  /** Connection string the other server uses to reach this one for replication (defaults to `url`). */
  replicationUrl?: string;
}

export const SESSION_SETTINGS = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET jit = off; SET max_parallel_workers_per_gather = 0; SET application_name = 'ferry'`;

export type Db = pg.Client;

export async function connect(endpoint: Endpoint, redactor: Redactor): Promise<Db> {
  const client = new pg.Client({ connectionString: endpoint.url, connectionTimeoutMillis: 10_000 });
  // An idle connection that the server terminates must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(SESSION_SETTINGS);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw dbError(error, endpoint, redactor, 'connect', `check that ${redactUrl(endpoint.url)} is reachable and the credentials are right`);
  }
  return client;
}

/** Wraps a driver error as a FerryError naming the side, with every known password removed. */
export function dbError(error: unknown, endpoint: Endpoint, redactor: Redactor, what: string, fix?: string): FerryError {
  if (error instanceof FerryError) return error;
  const message = redactor.text(error instanceof Error ? error.message : String(error));
  const code = (error as { code?: string } | undefined)?.code;
  return new FerryError('data.postgres', `${endpoint.side} database (${redactUrl(endpoint.url)}): ${what}: ${message}${code ? ` [SQLSTATE ${code}]` : ''}`, {
    fix,
    cause: error,
  });
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
    throw dbError(error, endpoint, redactor, sql.split('\n')[0]!.slice(0, 80));
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
