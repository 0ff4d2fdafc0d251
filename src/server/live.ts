/**
 * One live feed per run the dashboard (or its metrics) looks at: the journal's records so far,
 * then each new one as it is written — through `journal.subscribe` when this process drives
 * the run (`ferry run --ui`, or a resume/rollback started from the dashboard), else by
 * following the journal file another process writes (`followJournal`). Records are delivered
 * to listeners in batches (at most every 100 ms) with the run state derived after them.
 */
import type { Journal } from '../journal/journal.js';
import { recordsAsWritten } from '../journal/journal.js';
import { followJournal } from '../journal/follow.js';
import type { JournalRecord } from '../journal/record.js';
import type { RunState, RunStatus } from '../run/model.js';
import type { MigrationPlan } from '../plan/schema.js';
import { deriveRunState } from '../run/state.js';
import { listRuns, openRun, runFiles, type RunFiles } from '../run/store.js';
import { journalStamp, lockHolder, runView, viewRecord, type RunView, type ViewRecord } from './runs.js';

/** What the UI server feeds each record to besides the browsers: Ferry's own metrics (`RunMetrics`, src/server/metrics.ts). */
export interface RecordObserver {
  observe(runId: string, record: JournalRecord): void;
  /** A whole journal at once (a finished run replayed). */
  observeAll(runId: string, records: Iterable<JournalRecord>): void;
}

/** A run in one of these, with no process holding its lock, writes nothing more until someone resumes or rolls it back. */
const FINISHED: ReadonlySet<RunStatus> = new Set<RunStatus>(['completed', 'rolled-back', 'aborted', 'failed']);

export interface FeedUpdate {
  records: ViewRecord[];
  state: RunState;
  drivenBy?: number;
}

const BATCH_MS = 100;
const DRIVER_CHECK_MS = 2_000;

export class RunFeed {
  readonly records: JournalRecord[] = [];
  private readonly listeners = new Set<(update: FeedUpdate) => void>();
  private pending: JournalRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private following: AbortController | undefined;
  private unsubscribe: (() => void) | undefined;
  private drivenBy: number | undefined;
  private readonly driverCheck: NodeJS.Timeout;
  private derived: { count: number; state: RunState } | undefined;

  constructor(readonly files: RunFiles, readonly plan: MigrationPlan, private readonly observer?: RecordObserver, initial: readonly JournalRecord[] = recordsAsWritten(files.journal)) {
    for (const record of initial) this.take(record);
    this.pending = [];
    this.drivenBy = lockHolder(files);
    // Who drives the run changes without a record (a process starts or dies): looked at now and then.
    this.driverCheck = setInterval(() => {
      const now = lockHolder(this.files);
      if (now !== this.drivenBy) {
        this.drivenBy = now;
        this.schedule();
      }
    }, DRIVER_CHECK_MS).unref();
  }

  /** Tails the journal file (a run driven by another process, or none). */
  follow(): void {
    if (this.following || this.unsubscribe) return;
    const controller = new AbortController();
    this.following = controller;
    const fromSeq = this.records.at(-1)?.seq ?? 0;
    followJournal(this.files.journal, (record) => this.take(record), { signal: controller.signal, fromSeq }).catch(() => {
      // A journal that cannot be followed any more (removed) just stops the live updates.
      if (this.following === controller) this.following = undefined;
    });
  }

  /** This process writes the run's journal: its records arrive as they are made durable. */
  attach(journal: Journal): () => void {
    this.following?.abort();
    this.following = undefined;
    this.unsubscribe?.();
    // Whatever was written between the file's last read and now, then each new record.
    for (const record of journal.records) this.take(record);
    const unsubscribe = journal.subscribe((record) => this.take(record));
    this.unsubscribe = unsubscribe;
    return () => {
      unsubscribe();
      if (this.unsubscribe === unsubscribe) this.unsubscribe = undefined;
      this.drivenBy = lockHolder(this.files);
      this.flush();
      // Someone else may drive it next (`ferry resume` in a terminal): back to the file.
      this.follow();
    };
  }

  /** Looks again at who holds the run's lock (a drive in this process just ended), and tells the listeners. */
  refreshDriver(): void {
    this.drivenBy = lockHolder(this.files);
    this.schedule();
  }

  /** The run's state after the records read so far (derived again only when records came). */
  state(): RunState {
    if (this.derived?.count !== this.records.length) this.derived = { count: this.records.length, state: deriveRunState(this.files.id, this.plan, this.records) };
    return this.derived.state;
  }

  /** No browser listens and this process does not write the journal: nothing needs the feed but its records. */
  idle(): boolean {
    return this.listeners.size === 0 && !this.unsubscribe;
  }

  view(): RunView {
    return runView(this.files, this.plan, this.records);
  }

  /** The run as it is now, and each update after it (nothing missed in between: both happen in one turn). */
  listen(listener: (update: FeedUpdate) => void): { view: RunView; stop: () => void } {
    this.listeners.add(listener);
    return { view: this.view(), stop: () => this.listeners.delete(listener) };
  }

  close(): void {
    this.following?.abort();
    this.unsubscribe?.();
    clearInterval(this.driverCheck);
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }

  private take(record: JournalRecord): void {
    // The file follower and the in-process subscription can both have seen a record.
    if (record.seq <= (this.records.at(-1)?.seq ?? 0)) return;
    this.records.push(record);
    this.pending.push(record);
    this.observer?.observe(this.files.id, record);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const update: FeedUpdate = { records: this.pending.map(viewRecord), state: this.state(), ...(this.drivenBy ? { drivenBy: this.drivenBy } : {}) };
    this.pending = [];
    for (const listener of this.listeners) listener(update);
  }
}

/**
 * The feeds of one state directory, made on first use. With an observer (the metrics), every
 * run's records reach it: a finished run's journal is read once and replayed, and neither
 * followed nor kept; a run still going is followed by a feed. A rescan looks at each journal's
 * size and mtime, so a run resumed later (its journal grows) is read again, and followed.
 */
export class RunFeeds {
  private readonly feeds = new Map<string, RunFeed>();
  /** Finished runs already replayed into the observer: their journal's stamp then. */
  private readonly replayed = new Map<string, string>();
  private rescan: NodeJS.Timeout | undefined;

  constructor(private readonly root: string, private readonly observer?: RecordObserver) {}

  feed(id: string): RunFeed {
    let feed = this.feeds.get(id);
    if (!feed) {
      const { files, plan } = openRun(this.root, id);
      feed = this.start(files, plan);
    }
    return feed;
  }

  /** The feed of a run when one is open (it holds the run's records as they come). */
  existing(id: string): RunFeed | undefined {
    return this.feeds.get(id);
  }

  /** A run this process drives: its records come from the journal itself. Returns the detach. */
  attach(files: RunFiles, plan: MigrationPlan, journal: Journal): () => void {
    let feed = this.feeds.get(files.id);
    if (!feed) {
      feed = new RunFeed(files, plan, this.observer, []);
      this.feeds.set(files.id, feed);
    }
    return feed.attach(journal);
  }

  /** Feeds the observer every run of the state directory, and the ones started or resumed later (for metrics over all runs). */
  watchAll(everyMs = 2_000): void {
    const scan = () => {
      this.retireFinished();
      const ids = listRuns(this.root);
      const listed = new Set(ids);
      for (const id of this.replayed.keys()) if (!listed.has(id)) this.replayed.delete(id);
      for (const id of ids) {
        if (this.feeds.has(id)) continue;
        try {
          this.look(id);
        } catch {
          // a run directory half-written or removed: the next scan looks again
        }
      }
    };
    scan();
    this.rescan = setInterval(scan, everyMs).unref();
  }

  close(): void {
    if (this.rescan) clearInterval(this.rescan);
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
  }

  private start(files: RunFiles, plan: MigrationPlan, initial?: readonly JournalRecord[]): RunFeed {
    const feed = new RunFeed(files, plan, this.observer, initial);
    this.feeds.set(files.id, feed);
    this.replayed.delete(files.id);
    feed.follow();
    return feed;
  }

  /** A run no feed holds: replayed if its journal changed since last time; followed if it is still going. */
  private look(id: string): void {
    const files = runFiles(this.root, id);
    // Stamped before reading: a record appended in between makes the next scan read again (observing is idempotent by seq).
    const stamp = journalStamp(files);
    if (!stamp || this.replayed.get(id) === stamp) return;
    const { plan } = openRun(this.root, id);
    const records = recordsAsWritten(files.journal);
    if (FINISHED.has(deriveRunState(id, plan, records).status) && !lockHolder(files)) {
      this.observer?.observeAll(id, records);
      this.replayed.set(id, stamp);
    } else {
      this.start(files, plan, records);
    }
  }

  /**
   * Closes the feeds of runs that finished and that nobody looks at (no browser streams them,
   * this process does not drive them); the scan that follows reads each once more, so a record
   * the follower had not reached yet still reaches the observer.
   */
  private retireFinished(): void {
    for (const [id, feed] of this.feeds) {
      if (!feed.idle() || !FINISHED.has(feed.state().status) || lockHolder(feed.files)) continue;
      feed.close();
      this.feeds.delete(id);
    }
  }
}
