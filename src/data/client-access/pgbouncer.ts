import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import pg from 'pg';
import { FerryError } from '../../util/errors.js';
import type { Side } from '../provider.js';
import { Redactor } from '../redact.js';
import type { DatabaseClientAccess } from './access.js';
import type { PgbouncerAccessConfig } from './schema.js';

/**
 * PgBouncer in front of the database: PgBouncer has no console command that changes where a
 * database entry points, so Ferry rewrites that entry's line in the [databases] file the
 * config includes, then on the admin console `RELOAD` (re-read the file) and `RECONNECT db`
 * (close each server connection once released). Client connections stay open; their next
 * transaction (transaction pooling) or their next session gets a server connection to the
 * new side. No PAUSE: inside the cutover's pause, writers wait on the freeze lock holding
 * their server connections, and PAUSE would wait for them.
 * https://www.pgbouncer.org/usage.html#process-controlling-commands
 */
export class PgbouncerClientAccess implements DatabaseClientAccess {
  readonly type = 'pgbouncer';

  constructor(
    private readonly config: PgbouncerAccessConfig,
    private readonly password: string | undefined,
  ) {}

  async current(): Promise<Side | 'unknown'> {
    const rows = await this.console<{ name: string; host: string | null; port: string | number; database: string }>('SHOW DATABASES');
    const entry = rows.find((row) => row.name === this.config.database);
    if (!entry) return 'unknown';
    for (const side of ['source', 'target'] as const) {
      const wanted = parseConnect(side === 'source' ? this.config.sourceConnect : this.config.targetConnect);
      if ((wanted.host ?? null) === (entry.host ?? null) && Number(wanted.port ?? 5432) === Number(entry.port) && (wanted.dbname ?? this.config.database) === entry.database) return side;
    }
    return 'unknown';
  }

  async pointTo(side: Side): Promise<void> {
    if ((await this.current()) === side) return;
    rewriteEntry(this.config.databasesFile, this.config.database, side === 'source' ? this.config.sourceConnect : this.config.targetConnect);
    await this.console('RELOAD');
    await this.console(`RECONNECT ${quoteIdent(this.config.database)}`);
    const now = await this.current();
    if (now !== side) {
      throw new FerryError('data.client-access', `PgBouncer at ${this.config.adminAddress} did not take the new entry for ${this.config.database} after RELOAD (it reports ${now})`, {
        location: { field: 'data.clientAccess.databasesFile' },
        fix: `check that pgbouncer.ini includes ${this.config.databasesFile} (%include) and that the file is readable by PgBouncer`,
      });
    }
  }

  async close(): Promise<void> {}

  /** One admin console command (simple query protocol, which is all the console speaks). */
  private async console<R extends pg.QueryResultRow>(command: string): Promise<R[]> {
    const at = this.config.adminAddress.lastIndexOf(':');
    const client = new pg.Client({
      host: this.config.adminAddress.slice(0, at).replace(/^\[|\]$/g, ''),
      port: Number(this.config.adminAddress.slice(at + 1)),
      user: this.config.adminUser,
      password: this.password,
      database: 'pgbouncer',
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<R>(command)).rows;
    } catch (error) {
      // The driver's message should never carry the password; it goes through the one redaction anyway.
      throw new Redactor([]).with(this.password).error(new FerryError('data.client-access', `PgBouncer admin console at ${this.config.adminAddress} (user ${this.config.adminUser}): ${command}: ${(error as Error).message}`, {
        location: { field: 'data.clientAccess.adminAddress' },
        fix: `check PgBouncer runs there, that ${this.config.adminUser} is in its admin_users and that ${this.config.passwordEnv} holds the password`,
        cause: error,
      }));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

function parseConnect(value: string): Record<string, string> {
  return Object.fromEntries(value.trim().split(/\s+/).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * Replaces the line `name = …` in the [databases] file (appends it if missing), written
 * beside, fsync'd and renamed, so PgBouncer never reads half a file.
 */
function rewriteEntry(file: string, name: string, connect: string): void {
  if (!existsSync(file)) {
    throw new FerryError('data.client-access', `PgBouncer databases file ${file} does not exist`, { location: { file, field: 'data.clientAccess.databasesFile' }, fix: 'create it with a [databases] section and %include it from pgbouncer.ini' });
  }
  const lines = readFileSync(file, 'utf8').split('\n');
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^\\s*"?${escaped}"?\\s*=`);
  const line = `${name} = ${connect}`;
  const index = lines.findIndex((candidate) => pattern.test(candidate));
  if (index >= 0) lines[index] = line;
  else {
    const section = lines.findIndex((candidate) => /^\s*\[databases\]\s*$/i.test(candidate));
    if (section < 0) lines.unshift('[databases]', line);
    else lines.splice(section + 1, 0, line);
  }
  const temporary = `${file}.ferry-tmp`;
  writeFileSync(temporary, lines.join('\n'));
  const fd = openSync(temporary, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temporary, file);
}
