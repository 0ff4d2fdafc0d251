/** What Ferry reads from PostgreSQL's catalogs about the tables it moves. */
import type { PgConn, PgSide } from './connection.js';

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface TableInfo {
  /** schema.table */
  name: string;
  hasPrimaryKey: boolean;
  /** pg_class.relreplident: d=default (primary key), n=nothing, f=full, i=index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  /** Primary key columns, or the replica identity index's; empty when there is neither. */
  key: ColumnInfo[];
  columns: ColumnInfo[];
  /** Estimated rows (pg_class.reltuples), for sizing chunks. */
  estimatedRows: number;
  bytes: number;
}

/** Schemas Ferry never moves: the system's and its own helper schema. */
export const HELPER_SCHEMA = 'ferry';

export async function listTables(db: PgSide | PgConn, schemas?: string[]): Promise<TableInfo[]> {
  const rows = await db.q<{
    name: string;
    ident: TableInfo['replicaIdentity'];
    has_pk: boolean;
    key: ColumnInfo[] | null;
    columns: ColumnInfo[] | null;
    est: string;
    bytes: string;
  }>(
    `select n.nspname || '.' || c.relname as name, c.relreplident as ident,
            exists (select 1 from pg_index p where p.indrelid = c.oid and p.indisprimary) as has_pk,
            (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by k.ord)
               from pg_index i cross join unnest(i.indkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
              where i.indrelid = c.oid
                and (i.indisprimary or (i.indisreplident and not exists (select 1 from pg_index p where p.indrelid = c.oid and p.indisprimary)))) as key,
            (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by a.attnum)
               from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
            greatest(c.reltuples, 0)::bigint::text as est,
            pg_total_relation_size(c.oid)::text as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and not c.relispartition
        and n.nspname not in ('pg_catalog', 'information_schema', $1)
        and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
        and ($2::text[] is null or n.nspname = any($2::text[]))
      order by 1`,
    [HELPER_SCHEMA, schemas && schemas.length > 0 ? schemas : null],
  );
  return rows.map((row) => ({
    name: row.name,
    hasPrimaryKey: row.has_pk,
    replicaIdentity: row.ident,
    key: row.key ?? [],
    columns: row.columns ?? [],
    estimatedRows: Number(row.est),
    bytes: Number(row.bytes),
  }));
}

export interface ServerInfo {
  versionNum: number;
  version: string;
  walLevel: string;
  maxReplicationSlots: number;
  usedReplicationSlots: number;
  inactiveSlots: string[];
  maxWalSenders: number;
  activeWalSenders: number;
  maxLogicalWorkers: number;
  maxSyncWorkers: number;
  user: string;
  superuser: boolean;
  replication: boolean;
  canCreate: boolean;
  database: string;
  /** pg_control_system().system_identifier: equal on both sides means one server (cluster). */
  systemIdentifier: string;
}

export async function serverInfo(db: PgSide | PgConn): Promise<ServerInfo> {
  const row = await db.one<Record<string, string | boolean | string[] | null>>(
    `select current_setting('server_version_num') as vnum, current_setting('server_version') as version,
            current_setting('wal_level') as wal, current_setting('max_replication_slots') as slots,
            (select count(*) from pg_replication_slots)::text as used_slots,
            (select coalesce(array_agg(slot_name::text), '{}') from pg_replication_slots where not active) as inactive,
            current_setting('max_wal_senders') as senders, (select count(*) from pg_stat_replication)::text as active_senders,
            current_setting('max_logical_replication_workers') as workers, current_setting('max_sync_workers_per_subscription') as sync_workers,
            current_user as usr, r.rolsuper as su, r.rolreplication as repl,
            has_database_privilege(current_database(), 'CREATE') as can_create, current_database() as db,
            (select system_identifier::text from pg_control_system()) as sysid
       from pg_roles r where r.rolname = current_user`,
  );
  return {
    versionNum: Number(row.vnum),
    version: String(row.version),
    walLevel: String(row.wal),
    maxReplicationSlots: Number(row.slots),
    usedReplicationSlots: Number(row.used_slots),
    inactiveSlots: (row.inactive as string[]) ?? [],
    maxWalSenders: Number(row.senders),
    activeWalSenders: Number(row.active_senders),
    maxLogicalWorkers: Number(row.workers),
    maxSyncWorkers: Number(row.sync_workers),
    user: String(row.usr),
    superuser: row.su === true,
    replication: row.repl === true,
    canCreate: row.can_create === true,
    database: String(row.db),
    systemIdentifier: String(row.sysid),
  };
}

export async function installedExtensions(db: PgSide | PgConn): Promise<Map<string, string>> {
  const rows = await db.q<{ name: string; version: string }>(`select extname as name, extversion as version from pg_extension where extname <> 'plpgsql'`);
  return new Map(rows.map((row) => [row.name, row.version]));
}

export async function availableExtensions(db: PgSide | PgConn): Promise<Set<string>> {
  const rows = await db.q<{ name: string }>(`select name from pg_available_extensions`);
  return new Set(rows.map((row) => row.name));
}
