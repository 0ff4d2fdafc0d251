/**
 * Schema of the moved tables: read from the catalogs of each side, diffed (pure), and
 * copied with `pg_dump --schema-only | psql` when the target has none of it yet.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { FerryError } from '../../util/errors.js';
import type { SchemaDifference } from '../provider.js';
import { passwordOf, Redactor } from '../redact.js';
import { HELPER_SCHEMA } from './catalog.js';
import type { PgSide } from './connection.js';
import { POSTGRES_BIN } from './local-server.js';

/** Each object named `schema.table[.part]` and described by one comparable string. */
export interface SchemaSnapshot {
  tables: Record<string, string>;
  columns: Record<string, string>;
  constraints: Record<string, string>;
  indexes: Record<string, string>;
  sequences: Record<string, string>;
}

export async function readSchema(db: PgSide, schemas?: string[]): Promise<SchemaSnapshot> {
  const filter = `n.nspname not in ('pg_catalog', 'information_schema', '${HELPER_SCHEMA}') and n.nspname not like 'pg\\_%' and ($1::text[] is null or n.nspname = any($1::text[]))`;
  const params = [schemas && schemas.length > 0 ? schemas : null];
  const pairs = async (sql: string) => Object.fromEntries((await db.q<{ k: string; v: string }>(sql, params)).map((row) => [row.k, row.v]));
  const [tables, columns, constraints, indexes, sequences] = await Promise.all([
    pairs(`select n.nspname || '.' || c.relname as k, 'table' as v from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p') and ${filter}`),
    pairs(`select n.nspname || '.' || c.relname || '.' || a.attname as k,
                  format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end
                  || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') as v
             from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and ${filter}`),
    pairs(`select n.nspname || '.' || c.relname || '.' || k.conname as k, pg_get_constraintdef(k.oid) as v
             from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace where ${filter}`),
    pairs(`select n.nspname || '.' || c.relname as k, pg_get_indexdef(c.oid) as v
             from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'i' and ${filter}`),
    pairs(`select n.nspname || '.' || c.relname as k,
                  format('%s increment %s min %s max %s%s', format_type(s.seqtypid, null), s.seqincrement, s.seqmin, s.seqmax, case when s.seqcycle then ' cycle' else '' end) as v
             from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace where ${filter}`),
  ]);
  return { tables, columns, constraints, indexes, sequences };
}

const KINDS: Array<[keyof SchemaSnapshot, SchemaDifference['kind']]> = [
  ['tables', 'table'],
  ['columns', 'column'],
  ['constraints', 'constraint'],
  ['indexes', 'index'],
  ['sequences', 'sequence'],
];

/** Every object missing on the target, extra on it, or defined differently; sorted by kind then name. */
export function diffSchemas(source: SchemaSnapshot, target: SchemaSnapshot): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  for (const [key, kind] of KINDS) {
    const s = source[key];
    const t = target[key];
    for (const object of Object.keys(s).sort()) {
      if (!(object in t)) out.push({ kind, object, change: 'missing-on-target', source: s[object] });
      else if (s[object] !== t[object]) out.push({ kind, object, change: 'different', source: s[object], target: t[object] });
    }
    for (const object of Object.keys(t).sort()) if (!(object in s)) out.push({ kind, object, change: 'extra-on-target', target: t[object] });
  }
  return out;
}

/** `pg_dump --schema-only` of the source piped into `psql` on the target, in one transaction. */
export async function copySchema(sourceUrl: string, targetUrl: string, schemas?: string[], options: { keepOwnership?: boolean } = {}): Promise<void> {
  // Owners and grants are kept when every role they name exists on the target: the
  // application's role must be able to use its tables after the cutover.
  const ownership = options.keepOwnership ? [] : ['--no-owner', '--no-privileges'];
  // Neither side may wait for ever: pg_dump gives up on a table lock after 30 s, psql's statements likewise.
  const dumpArgs = ['--schema-only', '--lock-wait-timeout=30s', ...ownership, '--no-publications', '--no-subscriptions', `--exclude-schema=${HELPER_SCHEMA}`];
  for (const schema of schemas ?? []) dumpArgs.push(`--schema=${schema}`);
  const dump = spawn(join(POSTGRES_BIN, 'pg_dump'), [...dumpArgs, '--dbname', withoutPassword(sourceUrl)], { env: pgEnv(sourceUrl), stdio: ['ignore', 'pipe', 'pipe'] });
  const restore = spawn(join(POSTGRES_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '--dbname', withoutPassword(targetUrl)], {
    env: { ...pgEnv(targetUrl), PGOPTIONS: '-c lock_timeout=30s -c statement_timeout=10min' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  dump.stdout.pipe(restore.stdin);
  const [dumpResult, restoreResult] = await Promise.all([finished(dump), finished(restore)]);
  const redactor = new Redactor([sourceUrl, targetUrl]);
  if (dumpResult.code !== 0) {
    throw redactor.error(new FerryError('data.schema', `pg_dump of ${sourceUrl} failed: ${dumpResult.stderr.trim()}`, { fix: 'check the source connection and that pg_dump 15 is installed' }));
  }
  if (restoreResult.code !== 0) {
    throw redactor.error(
      new FerryError('data.schema', `loading the schema into ${targetUrl} failed (nothing was changed): ${restoreResult.stderr.trim()}`, {
        fix: 'the target must not already hold some of these objects: drop them or compare with `ferry data schema`',
      }),
    );
  }
}

function finished(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

/** Passwords go to child processes through PGPASSWORD, never on a command line that `ps` shows. */
function pgEnv(url: string): NodeJS.ProcessEnv {
  const password = passwordOf(url);
  return { PATH: process.env.PATH, LANG: 'C.UTF-8', PGCONNECT_TIMEOUT: '10', ...(password ? { PGPASSWORD: password } : {}) };
}

export function withoutPassword(url: string): string {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      // Never echo the string: it holds a password.
      throw new FerryError('usage', 'a connection string is not a valid URL', { fix: 'percent-encode special characters of the password (@ : / ? # % and spaces), e.g. with encodeURIComponent' });
    }
    parsed.password = '';
    parsed.searchParams.delete('password');
    return parsed.toString();
  }
  return url.replace(/password\s*=\s*('([^'\\]|\\.)*'|\S+)/gi, '').trim();
}
