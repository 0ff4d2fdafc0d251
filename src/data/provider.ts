/**
 * DataProvider: one small interface per kind of data store that Ferry moves (PostgreSQL
 * logical replication today; volumes and object storage later). Every method is
 * observe-then-ensure: it reads the world first and only changes what is missing, so a run
 * that crashed half-way can call it again. Results are plain data (they go to the journal).
 */

export type Side = 'source' | 'target';

export interface CheckItem {
  /** Stable id, e.g. `source.wal_level`. */
  id: string;
  side: Side | 'both';
  ok: boolean;
  /** Warnings do not block (e.g. a table without a primary key that can still replicate). */
  severity: 'error' | 'warning';
  message: string;
  fix?: string;
}

export interface CheckReport {
  ok: boolean;
  items: CheckItem[];
}

export interface SchemaDifference {
  kind: 'table' | 'column' | 'constraint' | 'index' | 'sequence';
  /** schema.table[.column|.constraint] */
  object: string;
  change: 'missing-on-target' | 'extra-on-target' | 'different';
  source?: string;
  target?: string;
}

export interface PrepareReport {
  schemaCopied: boolean;
  differences: SchemaDifference[];
  tables: string[];
}

export interface TableProgress {
  table: string;
  /** i=initialize, d=data copy, f=finished copy, s=synchronized, r=ready (pg_subscription_rel.srsubstate). */
  state: 'init' | 'copying' | 'copied' | 'syncing' | 'ready' | 'unknown';
  sourceBytes: number;
  targetBytes: number;
}

export interface LagReport {
  /** Seconds between a heartbeat's commit on the sending side and its apply on the receiver; null if it did not arrive in time. */
  seconds: number | null;
  /** WAL bytes between the sender's current position and what the receiver confirmed. */
  bytes: number | null;
  /** pg_stat_replication.replay_lag, when the sender reports it. */
  replayLagSeconds: number | null;
  applyErrors: number;
  syncErrors: number;
}

export interface SyncStatus {
  direction: string;
  exists: boolean;
  enabled: boolean;
  tables: TableProgress[];
  allReady: boolean;
  lag: LagReport | null;
}

export interface RowDifference {
  table: string;
  /** Primary key values as text, in key column order. */
  key: string[];
  kind: 'missing' | 'extra' | 'changed';
}

export interface TableParity {
  table: string;
  sourceRows: number;
  targetRows: number;
  chunks: number;
  mismatchedChunks: number;
}

export interface ParityReport {
  ok: boolean;
  tables: TableParity[];
  differences: RowDifference[];
  /** Differences seen once while replication was live but gone on re-check. */
  transientDifferences: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  queries: number;
  /** Queries spent after the chunk scan to narrow mismatched chunks down to keys and confirm them. */
  locateQueries: number;
  /** locateQueries per differing row found (null when none was found): bounded, not growing with the table. */
  locateQueriesPerDifference?: number | null;
  /** Seconds of the chunk scan (plans + summaries of every chunk on both sides), before the locate. */
  scanSeconds?: number;
  /** Connections per side the scan ran on (the `concurrency` budget). */
  connectionsPerSide?: number;
  /** Bytes the two servers sent to Ferry during parity (protocol stream counters). */
  bytesReceived?: number;
  consistency: 'frozen' | 'replayed-past-source-lsn' | 'snapshot';
  sourceLsn: string | null;
  hash: 'text' | 'record';
}

export interface SwitchoverReport {
  /** sync direction that carried writes before (e.g. s2t) and after. */
  from: Side;
  to: Side;
  alreadyDone: boolean;
  /** Time writes could not be acknowledged anywhere: lock requested on `from` → `to` open (the attempt that switched). */
  writePauseMs: number;
  /** The budget the pause ran under (`data.maxWritePause`); null when none was set. */
  maxWritePauseMs: number | null;
  /**
   * How far the pause went over the budget (0 when within). Only the two commits after the
   * last budget check (close the old side, open the new one) can overrun; never hidden.
   */
  pauseOverLimitMs: number;
  steps: Array<{ step: string; ms: number }>;
  sequencesCopied: number;
  lockAttempts: number;
  /**
   * Time writers spent queued behind freeze attempts that timed out (each then let them go
   * on): not part of the pause, but a stall the application saw.
   */
  failedFreezeMs: number;
  /** Attempts whose pause would have exceeded the budget: writes were given back to `from` and the freeze retried. */
  givenBack: GivenBackPause[];
  parity: ParityReport | null;
  reverseDirection: string;
}

export interface GivenBackPause {
  attempt: number;
  /** How long writers queued in that attempt before the freeze was rolled back. */
  pauseMs: number;
  /** The step that would have run out of time (drain, detach, start, point, close…). */
  step: string;
  reason: string;
}

export interface TeardownReport {
  dropped: string[];
  /** Replication objects still present afterwards (must be empty). */
  leftovers: string[];
}

export interface ParityOptions {
  tables?: string[];
  chunkRows?: number;
  leafRows?: number;
  fanout?: number;
  /** Connections per side parity scans on (default 4). */
  concurrency?: number;
  /**
   * Row hash: `record` (default) hashes typed values where that is as strict as the text form
   * and falls back to `text` per table otherwise; `text` always hashes the row's text.
   */
  hash?: 'text' | 'record';
  /** Re-check rounds for differences seen while replication is live. */
  confirmRounds?: number;
}

export interface DataProvider {
  readonly kind: string;
  /** Preconditions on both sides; never changes anything. */
  check(): Promise<CheckReport>;
  /** Optionally copies the schema, then diffs source and target schemas. */
  prepare(options?: { copySchema?: boolean }): Promise<PrepareReport>;
  /** Ensures replication source→target with an initial copy; returns at once (see `status`). */
  startSync(): Promise<SyncStatus>;
  /** Initial copy progress and lag of the active direction. */
  status(): Promise<SyncStatus>;
  lag(): Promise<LagReport>;
  parity(options?: ParityOptions): Promise<ParityReport>;
  /** Freeze source, drain, copy sequences, reverse replication, open target. */
  cutover(options?: SwitchoverOptions): Promise<SwitchoverReport>;
  /** The same in the other direction: target → source. */
  reverse(options?: SwitchoverOptions): Promise<SwitchoverReport>;
  teardown(): Promise<TeardownReport>;
  /**
   * Ends the applications' sessions on one side (not Ferry's own, not replication), so that
   * they reconnect through an address that moved: `createClientAccess`'s `deps.disconnect`.
   */
  disconnectApplications?(side: Side): Promise<number>;
  close(): Promise<void>;
}

export interface SwitchoverOptions {
  /** Longest a single lock attempt may queue writers before it gives up and retries. */
  lockTimeoutMs?: number;
  lockAttempts?: number;
  /** Longest the pause may wait for replication to drain before it aborts and unfreezes. */
  drainTimeoutMs?: number;
  /**
   * The plan's `data.maxWritePause`: longest the write pause may last (lock requested → new
   * side open). An attempt that would exceed it gives the writes back to the old side and is
   * retried (up to `lockAttempts` in all); then the switchover fails with an error naming
   * `data.maxWritePause`. Unset: no budget (only `drainTimeoutMs` bounds the drain).
   */
  maxWritePauseMs?: number;
  /**
   * Points the applications' database address at a side (`DatabaseClientAccess.pointTo`).
   * Called before the pause with the side that has the writes (observe-then-ensure), inside
   * the pause with the side about to open (after the new direction exists, before the old
   * side closes, within the budget), and again after a give-back. Must be safe to repeat.
   */
  pointApplications?: (side: Side) => Promise<void>;
  /** Told of each attempt given back (for the run journal). */
  onGiveBack?: (event: GivenBackPause) => void;
  /** Refuse to freeze while the lag is above this. */
  maxLagBeforeFreezeMs?: number;
  /** Run final parity on the frozen snapshots (after the target opened, outside the pause). */
  finalParity?: boolean;
  parity?: ParityOptions;
}
