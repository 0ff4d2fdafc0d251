/**
 * Preconditions for moving a PostgreSQL database with logical replication, in both
 * directions (after cutover the target publishes back to the source, so it needs the same
 * settings). Reads only. Each failed item says what to change.
 */
import type { CheckItem, CheckReport } from '../provider.js';
import { availableExtensions, installedExtensions, listTables, serverInfo, type ServerInfo } from './catalog.js';
import type { PgSide } from './connection.js';

export async function checkPostgres(source: PgSide, target: PgSide, schemas?: string[]): Promise<CheckReport> {
  const [si, ti, tables, targetTables, sourceExt, targetExt, targetAvail] = await Promise.all([
    serverInfo(source),
    serverInfo(target),
    listTables(source, schemas),
    listTables(target, schemas),
    installedExtensions(source),
    installedExtensions(target),
    availableExtensions(target),
  ]);
  const items: CheckItem[] = [];
  const add = (item: Omit<CheckItem, 'severity'> & { severity?: CheckItem['severity'] }) => items.push({ severity: 'error', ...item });

  const sameServer = si.systemIdentifier === ti.systemIdentifier;
  add(sameServerItem(si, ti));
  // Publisher settings: the source now, the target after cutover (reverse replication).
  for (const [side, info] of [['source', si], ['target', ti]] as const) {
    add(walLevelItem(side, info));
    // One slot + sender for the subscription, plus one per table-sync worker during the initial
    // copy; on one server both sides' slots come from the same pool.
    const own = 1 + (side === 'source' ? ti.maxSyncWorkers : 0);
    const needed = sameServer ? 2 + ti.maxSyncWorkers : own;
    const freeSlots = info.maxReplicationSlots - info.usedReplicationSlots;
    add({
      id: `${side}.replication_slots`,
      side,
      ok: freeSlots >= needed,
      message: `${freeSlots} of ${info.maxReplicationSlots} replication slots free, ${needed} needed`,
      fix:
        freeSlots >= needed
          ? undefined
          : `raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = ${info.maxReplicationSlots + needed}; then restart)` +
            (info.inactiveSlots.length > 0 ? ` or drop unused slots: ${info.inactiveSlots.join(', ')}` : ''),
    });
    const freeSenders = info.maxWalSenders - info.activeWalSenders;
    add({
      id: `${side}.wal_senders`,
      side,
      ok: freeSenders >= needed,
      message: `${freeSenders} of ${info.maxWalSenders} WAL senders free, ${needed} needed`,
      fix: freeSenders >= needed ? undefined : `raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = ${info.maxWalSenders + needed}; then restart)`,
    });
    // PostgreSQL 15: only superusers may CREATE SUBSCRIPTION; each side subscribes once.
    add({
      id: `${side}.privileges`,
      side,
      ok: info.superuser,
      message: info.superuser
        ? `role ${info.user} is superuser`
        : `role ${info.user} is not superuser: PostgreSQL 15 needs a superuser to create subscriptions${info.replication ? '' : ' and the REPLICATION attribute to publish'}`,
      fix: info.superuser ? undefined : `ALTER ROLE ${info.user} SUPERUSER (or connect as a superuser for the move)`,
    });
  }
  add({
    id: 'target.create',
    side: 'target',
    ok: ti.canCreate,
    message: ti.canCreate ? `role ${ti.user} may CREATE in database ${ti.database}` : `role ${ti.user} may not CREATE in database ${ti.database}`,
    fix: ti.canCreate ? undefined : `GRANT CREATE ON DATABASE ${ti.database} TO ${ti.user}`,
  });
  add({
    id: 'target.workers',
    side: 'target',
    ok: ti.maxLogicalWorkers >= 2,
    message: `max_logical_replication_workers = ${ti.maxLogicalWorkers}`,
    fix: ti.maxLogicalWorkers >= 2 ? undefined : 'ALTER SYSTEM SET max_logical_replication_workers = 4 (and max_worker_processes ≥ 8); then restart',
  });
  const sourceMajor = Math.floor(si.versionNum / 10000);
  const targetMajor = Math.floor(ti.versionNum / 10000);
  add({
    id: 'target.version',
    side: 'target',
    ok: targetMajor >= sourceMajor && targetMajor >= 10,
    severity: targetMajor >= 10 ? 'warning' : 'error',
    message: `source PostgreSQL ${si.version}, target ${ti.version}`,
    fix: targetMajor >= sourceMajor ? undefined : `use a target of PostgreSQL ${sourceMajor} or newer: moving to an older major version can fail on newer syntax and types`,
  });
  for (const [name, version] of sourceExt) {
    const installed = targetExt.get(name);
    const available = targetAvail.has(name);
    add({
      id: `target.extension.${name}`,
      side: 'target',
      ok: available,
      severity: available ? 'warning' : 'error',
      message: installed
        ? `extension ${name} ${version} on source, ${installed} on target`
        : available
          ? `extension ${name} is available on the target (the schema copy creates it)`
          : `extension ${name} ${version} is used on the source but is not available on the target`,
      fix: available ? undefined : `install the package that provides extension ${name} on the target server`,
    });
  }
  add({
    id: 'source.tables',
    side: 'source',
    ok: tables.length > 0,
    message: `${tables.length} tables to replicate`,
    fix: tables.length > 0 ? undefined : 'the source has no user tables in the chosen schemas: check the connection string (database name) and --schema',
  });
  for (const table of tables) {
    if (table.hasPrimaryKey) continue;
    if (table.replicaIdentity === 'i' && table.key.length > 0) {
      add({ id: `source.key.${table.name}`, side: 'source', ok: true, severity: 'warning', message: `${table.name} has no primary key; its replica identity index is used` });
    } else if (table.replicaIdentity === 'f') {
      add({
        id: `source.key.${table.name}`,
        side: 'source',
        ok: false,
        severity: 'error',
        message: `${table.name} has REPLICA IDENTITY FULL but no primary key: it replicates, but parity cannot compare it by key ranges`,
        fix: `ALTER TABLE ${table.name} ADD PRIMARY KEY (...)`,
      });
    } else {
      add({
        id: `source.key.${table.name}`,
        side: 'source',
        ok: false,
        message: `${table.name} has no primary key or replica identity: UPDATE and DELETE on it fail once it is published`,
        fix: `ALTER TABLE ${table.name} ADD PRIMARY KEY (...), or ALTER TABLE ${table.name} REPLICA IDENTITY USING INDEX <unique index>`,
      });
    }
  }
  const onTarget = new Set(targetTables.map((table) => table.name));
  const missing = tables.filter((table) => !onTarget.has(table.name)).map((table) => table.name);
  add({
    id: 'target.schema',
    side: 'target',
    ok: missing.length === 0,
    severity: 'warning',
    message: missing.length === 0 ? 'every source table exists on the target' : `${missing.length} tables missing on the target: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    fix: missing.length === 0 ? undefined : 'run `ferry data sync --copy-schema` (pg_dump --schema-only into the target)',
  });
  return { ok: items.every((item) => item.ok || item.severity === 'warning'), items };
}

/**
 * Two databases of one server (same system identifier) replicate fine — Ferry creates each
 * slot before its subscription, as PostgreSQL documents for this case — but one database
 * cannot be moved into itself.
 */
function sameServerItem(si: ServerInfo, ti: ServerInfo): CheckItem {
  if (si.systemIdentifier !== ti.systemIdentifier) {
    return { id: 'servers', side: 'both', ok: true, severity: 'error', message: `source and target are different servers (system identifiers ${si.systemIdentifier} and ${ti.systemIdentifier})` };
  }
  if (si.database === ti.database) {
    return {
      id: 'servers',
      side: 'both',
      ok: false,
      severity: 'error',
      message: `source and target are the same database (${si.database} on the server with system identifier ${si.systemIdentifier})`,
      fix: 'point --target at another database or server',
    };
  }
  return {
    id: 'servers',
    side: 'both',
    ok: true,
    severity: 'warning',
    message: `source (${si.database}) and target (${ti.database}) are databases of the same server (system identifier ${si.systemIdentifier}): Ferry creates each replication slot before its subscription, and both directions share its slots and WAL senders`,
  };
}

function walLevelItem(side: 'source' | 'target', info: ServerInfo): CheckItem {
  const ok = info.walLevel === 'logical';
  const why = side === 'source' ? 'to publish changes' : 'to replicate back to the source after cutover (loss-free failback)';
  return {
    id: `${side}.wal_level`,
    side,
    ok,
    severity: 'error',
    message: `wal_level = ${info.walLevel}${ok ? '' : `; logical is needed ${why}`}`,
    fix: ok ? undefined : `ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL on the ${side}`,
  };
}
