/** The PostgreSQL DataProvider: logical replication source → target, parity, cutover, failback, teardown. */
import { FerryError } from '../../util/errors.js';
import type {
  CheckReport,
  DataProvider,
  LagReport,
  ParityOptions,
  ParityReport,
  PrepareReport,
  Side,
  SwitchoverOptions,
  SwitchoverReport,
  SyncStatus,
  TeardownReport,
} from '../provider.js';
import { Redactor } from '../redact.js';
import { HELPER_SCHEMA, listTables } from './catalog.js';
import { checkPostgres } from './check.js';
import { PgSide, type Endpoint } from './connection.js';
import { runParity } from './parity.js';
import {
  closeWritesSql,
  directions,
  dropPublication,
  dropSlot,
  dropSubscription,
  ensureHeartbeatRow,
  ensureHelpers,
  ensurePublication,
  ensureSubscription,
  HEARTBEAT_TABLE,
  lagReport,
  sleep,
  subscriptionExists,
  tableProgress,
  writesClosed,
  type Direction,
} from './replication.js';
import { copySchema, diffSchemas, readSchema } from './schema.js';
import { literal, qualified } from './sql.js';
import { switchover } from './switchover.js';

export interface PostgresDataConfig {
  /** Names the replication objects: ferry_<name>_s2t / ferry_<name>_t2s. */
  name: string;
  source: { url: string; replicationUrl?: string };
  target: { url: string; replicationUrl?: string };
  /** Schemas to move (default: every user schema). */
  schemas?: string[];
  parity?: ParityOptions;
}

export class PostgresDataProvider implements DataProvider {
  readonly kind = 'postgres';
  readonly source: PgSide;
  readonly target: PgSide;
  readonly redactor: Redactor;
  private readonly forward: Direction;
  private readonly reverseDir: Direction;

  constructor(private readonly config: PostgresDataConfig) {
    this.redactor = new Redactor([config.source.url, config.target.url, config.source.replicationUrl ?? '', config.target.replicationUrl ?? '']);
    const endpoint = (side: Side): Endpoint => ({ side, ...config[side] });
    this.source = new PgSide(endpoint('source'), this.redactor);
    this.target = new PgSide(endpoint('target'), this.redactor);
    ({ forward: this.forward, reverse: this.reverseDir } = directions(config.name));
  }

  check(): Promise<CheckReport> {
    return this.guard(() => checkPostgres(this.source, this.target, this.config.schemas));
  }

  /**
   * Every result and error leaves the provider through the one redaction (src/data/redact.ts)
   * with this move's secrets: the run journals both, the CLI prints both.
   */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return this.redactor.value(await work());
    } catch (error) {
      throw this.redactor.error(error);
    }
  }

  prepare(options: { copySchema?: boolean } = {}): Promise<PrepareReport> {
    return this.guard(() => this.prepareUnguarded(options));
  }

  private async prepareUnguarded(options: { copySchema?: boolean }): Promise<PrepareReport> {
    const tables = (await listTables(this.source, this.config.schemas)).map((t) => t.name);
    let schemaCopied = false;
    if (options.copySchema) {
      const onTarget = new Set((await listTables(this.target, this.config.schemas)).map((t) => t.name));
      const present = tables.filter((t) => onTarget.has(t));
      if (present.length === 0) {
        const missingRoles = await rolesMissingOnTarget(this.source, this.target, this.config.schemas);
        await copySchema(this.config.source.url, this.config.target.url, this.config.schemas, { keepOwnership: missingRoles.length === 0 });
        schemaCopied = true;
      } else if (present.length < tables.length) {
        throw new FerryError('data.schema', `the target already has ${present.length} of the ${tables.length} source tables; copying the schema over them would fail half-way`, {
          fix: 'drop the partial schema on the target, or create the missing tables yourself; `ferry data schema` lists the differences',
        });
      }
    }
    const [s, t] = await Promise.all([readSchema(this.source, this.config.schemas), readSchema(this.target, this.config.schemas)]);
    return { schemaCopied, differences: diffSchemas(s, t), tables };
  }

  startSync(): Promise<SyncStatus> {
    return this.guard(() => this.startSyncUnguarded());
  }

  private async startSyncUnguarded(): Promise<SyncStatus> {
    if ((await subscriptionExists(this.source, this.reverseDir)).exists) return this.status();
    const tables = await this.tableNames();
    const onTarget = new Set((await listTables(this.target, this.config.schemas)).map((t) => t.name));
    const missing = tables.filter((t) => !onTarget.has(t));
    if (missing.length > 0) {
      throw new FerryError('data.sync', `${missing.length} tables are missing on the target: ${missing.slice(0, 5).join(', ')}`, {
        fix: 'run `ferry data sync --copy-schema` to copy the schema first',
      });
    }
    await Promise.all([ensureHelpers(this.source), ensureHelpers(this.target)]);
    // Heartbeat rows of both directions are born on the source and reach the target with the
    // initial copy: a row inserted on both sides would collide in apply and stall it.
    await ensureHeartbeatRow(this.source, this.forward);
    await ensureHeartbeatRow(this.source, this.reverseDir);
    if (!(await subscriptionExists(this.target, this.forward)).exists) {
      const nonEmpty = await this.target.q<{ t: string }>(
        tables.map((t) => `select ${literal(t)} as t where exists (select 1 from ${qualified(t)})`).join(' union all '),
      );
      if (nonEmpty.length > 0) {
        throw new FerryError('data.sync', `target tables already hold rows (${nonEmpty.slice(0, 3).map((r) => r.t).join(', ')}): the initial copy would collide with them`, {
          fix: 'empty those tables on the target (TRUNCATE) or point --target at an empty database',
        });
      }
      // The initial copy brings the source's heartbeat row; a stale one on the target would collide with it.
      await this.target.q(`delete from ${HEARTBEAT_TABLE} where direction in ($1, $2)`, [this.forward.id, this.reverseDir.id]);
      if (!(await writesClosed(this.target, tables))) await this.target.q(`begin;\n${closeWritesSql(tables, 'the target is a replica of the source')}\ncommit;`);
      await ensurePublication(this.source, this.forward, tables);
      await ensureSubscription(this.target, this.forward, this.conninfo('source'), { copyData: true, createSlot: true, publisher: this.source });
    } else {
      await ensurePublication(this.source, this.forward, tables);
      await ensureSubscription(this.target, this.forward, this.conninfo('source'), { copyData: true, createSlot: true, publisher: this.source });
    }
    return this.status({ lag: false });
  }

  /** The direction replicating now: forward before cutover, reverse after it; null when none. */
  async activeDirection(): Promise<Direction | null> {
    if ((await subscriptionExists(this.target, this.forward)).exists) return this.forward;
    if ((await subscriptionExists(this.source, this.reverseDir)).exists) return this.reverseDir;
    return null;
  }

  status(options: { lag?: boolean } = {}): Promise<SyncStatus> {
    return this.guard(() => this.statusUnguarded(options));
  }

  private async statusUnguarded(options: { lag?: boolean } = {}): Promise<SyncStatus> {
    const direction = await this.activeDirection();
    if (!direction) return { direction: this.forward.id, exists: false, enabled: false, tables: [], allReady: false, lag: null };
    const [from, to] = this.sides(direction);
    const sub = await subscriptionExists(to, direction);
    const tables = await tableProgress(from, to, direction);
    const allReady = tables.length > 0 && tables.every((t) => t.state === 'ready');
    const lag = allReady && options.lag !== false ? await lagReport(from, to, direction) : null;
    return { direction: direction.id, exists: sub.exists, enabled: sub.enabled, tables, allReady, lag };
  }

  /** Polls until every table is ready and the lag is under `maxLagSeconds`; reports apply errors as they appear. */
  waitForSync(options: { maxLagSeconds?: number; timeoutMs?: number; onProgress?: (status: SyncStatus) => void } = {}): Promise<SyncStatus> {
    return this.guard(() => this.waitForSyncUnguarded(options));
  }

  private async waitForSyncUnguarded(options: { maxLagSeconds?: number; timeoutMs?: number; onProgress?: (status: SyncStatus) => void }): Promise<SyncStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    const maxLag = options.maxLagSeconds ?? 1;
    while (true) {
      const status = await this.status();
      options.onProgress?.(status);
      if (status.lag && (status.lag.applyErrors > 0 || status.lag.syncErrors > 0)) {
        throw new FerryError('data.sync', `the ${status.direction === this.forward.id ? 'target' : 'source'} reports ${status.lag.applyErrors} apply and ${status.lag.syncErrors} initial-copy errors (pg_stat_subscription_stats)`, {
          fix: 'read the subscriber server log for the failing statement (a conflicting row or a trigger); fix it and the worker retries',
        });
      }
      if (status.allReady && status.lag?.seconds != null && status.lag.seconds < maxLag) return status;
      if (Date.now() > deadline) {
        throw new FerryError('data.sync', `sync did not catch up in time (${status.tables.filter((t) => t.state !== 'ready').length} tables copying, lag ${status.lag?.seconds ?? 'unknown'} s)`, {
          fix: 'check `ferry data status`; large tables take ~4 s per million rows',
        });
      }
      await sleep(status.allReady ? 100 : 500);
    }
  }

  lag(): Promise<LagReport> {
    return this.guard(async () => {
      const direction = await this.activeDirection();
      if (!direction) throw new FerryError('data.lag', 'nothing is replicating', { fix: 'run `ferry data sync` first' });
      const [from, to] = this.sides(direction);
      return lagReport(from, to, direction);
    });
  }

  parity(options: ParityOptions = {}): Promise<ParityReport> {
    return this.guard(async () => {
      const direction = await this.activeDirection();
      const merged = { ...this.config.parity, ...options, schemas: this.config.schemas };
      return runParity(this.source, this.target, direction ? { mode: 'live', direction } : { mode: 'snapshot' }, merged);
    });
  }

  cutover(options: SwitchoverOptions = {}): Promise<SwitchoverReport> {
    return this.switchover('source', options);
  }

  reverse(options: SwitchoverOptions = {}): Promise<SwitchoverReport> {
    return this.switchover('target', options);
  }

  teardown(): Promise<TeardownReport> {
    return this.guard(() => this.teardownUnguarded());
  }

  private async teardownUnguarded(): Promise<TeardownReport> {
    const dropped: string[] = [];
    for (const direction of [this.forward, this.reverseDir]) {
      const [from, to] = this.sides(direction);
      if (await dropSubscription(to, direction, from)) dropped.push(`subscription ${direction.id} on ${direction.to}`);
      if (await dropSlot(from, direction.id)) dropped.push(`slot ${direction.id} on ${direction.from}`);
      if (await dropSlot(to, direction.id)) dropped.push(`slot ${direction.id} on ${direction.to}`);
      for (const db of [from, to]) if (await dropPublication(db, direction.id)) dropped.push(`publication ${direction.id} on ${db.side}`);
    }
    for (const db of [this.source, this.target]) {
      const hasHelpers = (await db.q(`select 1 from pg_class where oid = to_regclass($1)`, [HEARTBEAT_TABLE])).length > 0;
      if (hasHelpers) await db.q(`delete from ${HEARTBEAT_TABLE} where direction in ($1, $2)`, [this.forward.id, this.reverseDir.id]);
    }
    return { dropped, leftovers: await this.leftovers() };
  }

  /** Replication objects of this sync still present on either side. */
  async leftovers(): Promise<string[]> {
    const out: string[] = [];
    const pattern = `ferry\\_${this.config.name.replace(/_/g, '\\_')}\\_%`;
    for (const db of [this.source, this.target]) {
      const rows = await db.q<{ what: string }>(
        `select 'slot ' || slot_name as what from pg_replication_slots where slot_name like $1
         union all select 'subscription ' || subname from pg_subscription where subname like $1
         union all select 'publication ' || pubname from pg_publication where pubname like $1`,
        [pattern],
      );
      out.push(...rows.map((row) => `${row.what} on ${db.side}`));
    }
    return out;
  }

  /**
   * Ends the applications' sessions on one side so that they reconnect — through an address
   * that now reaches the other side (`data.clientAccess` of type service or externalName,
   * which only change where new connections go). Ferry's own sessions (application_name
   * `ferry`) and replication workers are left alone. Needs the role to be allowed to signal
   * those backends (superuser, the same role, or pg_signal_backend). Returns how many ended.
   */
  disconnectApplications(side: Side): Promise<number> {
    return this.guard(() => this.disconnectUnguarded(side));
  }

  private async disconnectUnguarded(side: Side): Promise<number> {
    const db = side === 'source' ? this.source : this.target;
    const row = await db.one<{ n: number }>(
      `select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid() and datname = current_database()
          and coalesce(application_name, '') <> 'ferry'`,
    );
    return row.n;
  }

  async close(): Promise<void> {
    await Promise.all([this.source.close(), this.target.close()]);
  }

  private async switchover(freezeSide: Side, options: SwitchoverOptions): Promise<SwitchoverReport> {
    return this.guard(async () => switchover(
      {
        source: this.source,
        target: this.target,
        tables: await this.tableNames(),
        schemas: this.config.schemas,
        forward: this.forward,
        reverse: this.reverseDir,
        conninfo: (side) => this.conninfo(side),
        parity: this.config.parity,
      },
      freezeSide,
      options,
    ));
  }

  private async tableNames(): Promise<string[]> {
    return (await listTables(this.source, this.config.schemas)).map((t) => t.name).filter((t) => !t.startsWith(`${HELPER_SCHEMA}.`));
  }

  private sides(direction: Direction): [PgSide, PgSide] {
    return direction.from === 'source' ? [this.source, this.target] : [this.target, this.source];
  }

  private conninfo(side: Side): string {
    return this.config[side].replicationUrl ?? this.config[side].url;
  }
}

/** Roles that own or are granted objects in the moved schemas on the source but do not exist on the target. */
async function rolesMissingOnTarget(source: PgSide, target: PgSide, schemas: string[] | undefined): Promise<string[]> {
  const used = await source.q<{ role: string }>(
    `select distinct r.rolname as role
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       cross join lateral (select c.relowner as oid union all select (aclexplode(coalesce(c.relacl, acldefault('r', c.relowner)))).grantee) g
       join pg_roles r on r.oid = g.oid
      where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', '${HELPER_SCHEMA}')
        and ($1::text[] is null or n.nspname = any($1::text[]))`,
    [schemas ?? null],
  );
  const present = new Set((await target.q<{ role: string }>('select rolname as role from pg_roles')).map((row) => row.role));
  return used.map((row) => row.role).filter((role) => !present.has(role)).sort();
}
