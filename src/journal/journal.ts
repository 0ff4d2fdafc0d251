import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { FerryError } from '../util/errors.js';
import { AnchorWriter, signHead, type JournalAnchor, type JournalHead } from './anchor.js';
import { defaultJournalStores } from './defaults.js';
import type { JournalKey, JournalKeyStore } from './key.js';
import type { FileKeyStore } from './keys/file.js';
import { GENESIS, hashRecord, macRecord, type JournalRecord } from './record.js';
import { redactForJournal } from './redact.js';
import { verifyJournalText, type VerifyResult } from './verify.js';

export type { VerifyResult } from './verify.js';

export interface JournalStores {
  /** Where the HMAC key lives. Default: the per-user key file (see `defaultJournalStores`). */
  keys?: JournalKeyStore;
  /** Where the chain head is anchored. Default: files next to the key. */
  anchor?: JournalAnchor;
  /** The id heads are anchored under. Default: the journal's directory name (`runs/<id>/journal.jsonl`). */
  runId?: string;
}

export interface JournalOptions extends JournalStores {
  clock?: () => Date;
  /** How long `flush`/`close` wait for the anchor before failing (default 30 s). */
  anchorTimeoutMs?: number;
  /** Called once `close` is done with the stores (a cluster client to close). */
  release?: () => void;
}

/** A store that can be used without awaiting (files): what the synchronous `Journal.open` and `readJournal` take. */
type SyncKeyStore = JournalKeyStore & Pick<FileKeyStore, 'obtainSync' | 'readSync'>;
type SyncAnchor = JournalAnchor & Required<Pick<JournalAnchor, 'writeSync' | 'listSync'>>;

/**
 * An append-only, fsync'd, hash-chained and keyed journal in JSON Lines. Each record carries
 * an HMAC with a key kept outside the run directory, and after each record the chain head
 * (count and last hash) is anchored outside it too, so neither a rewritten chain nor a cut
 * tail passes. Opening it verifies all of that and drops a torn last line (a crash
 * mid-write), so a resumed run continues from the last whole record. One writer at a time:
 * the run's lock (see run/lock.ts) guarantees it.
 */
export class Journal {
  private fd: number;
  private lastHash: string;
  private nextSeq: number;
  private keyed: boolean;
  readonly records: JournalRecord[];
  private readonly writer: AnchorWriter;
  private readonly listeners = new Set<(record: JournalRecord) => void>();

  private constructor(
    readonly path: string,
    records: JournalRecord[],
    private readonly clock: () => Date,
    private readonly key: JournalKey,
    readonly runId: string,
    readonly jid: string,
    anchor: JournalAnchor,
    timeoutMs: number | undefined,
    private readonly release: (() => void) | undefined,
  ) {
    this.records = records;
    this.lastHash = records.at(-1)?.hash ?? GENESIS;
    this.nextSeq = (records.at(-1)?.seq ?? 0) + 1;
    this.keyed = records.some((record) => record.mac !== undefined);
    this.writer = new AnchorWriter(anchor, timeoutMs);
    this.fd = openSync(path, 'a');
  }

  /** Opens with stores usable synchronously (the default: key file and file anchor). */
  static open(path: string, options: JournalOptions = {}): Journal {
    const { keys, anchor, runId } = stores(path, options);
    if (!isSyncKeys(keys) || !isSyncAnchor(anchor)) {
      throw new FerryError('internal', `Journal.open cannot wait for ${isSyncKeys(keys) ? anchor.where : keys.where}`, { fix: 'this is a bug in Ferry: use Journal.openAsync with cluster stores' });
    }
    const key = keys.obtainSync();
    const loaded = load(path, key, keys.where, anchor, anchor.listSync(runId));
    const journal = new Journal(path, loaded.records, options.clock ?? (() => new Date()), key, runId, loaded.jid, anchor, options.anchorTimeoutMs, options.release);
    anchor.writeSync(journal.head());
    return journal;
  }

  /** Opens with any stores (a Secret, a ConfigMap): the key is fetched and the head anchored before it returns. */
  static async openAsync(path: string, options: JournalOptions = {}): Promise<Journal> {
    const { keys, anchor, runId } = stores(path, options);
    const key = await keys.obtain();
    const loaded = load(path, key, keys.where, anchor, await anchor.list(runId));
    const journal = new Journal(path, loaded.records, options.clock ?? (() => new Date()), key, runId, loaded.jid, anchor, options.anchorTimeoutMs, options.release);
    // Anchored before the first new record: from here on a missing head means a removed one.
    await anchor.write(journal.head());
    return journal;
  }

  append<T extends Record<string, unknown>>(type: string, data: T, actor = 'ferry'): JournalRecord<T> {
    const body = {
      seq: this.nextSeq, at: this.clock().toISOString(), type, actor, data: redactForJournal(data) as T, prev: this.lastHash,
      kid: this.key.id, ...(this.keyed ? {} : { jid: this.jid }),
    };
    const signed = { ...body, mac: macRecord(this.key, body) };
    const record = { ...signed, hash: hashRecord(signed) };
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
    this.records.push(record);
    this.lastHash = record.hash;
    this.nextSeq++;
    this.keyed = true;
    this.writer.submit(this.head());
    for (const listener of this.listeners) {
      // A watcher (dashboard, metrics, notifications) never breaks the run that feeds it.
      try {
        listener(record);
      } catch {
        // ignored on purpose: the record is durable whatever a listener does with it
      }
    }
    return record;
  }

  /**
   * Tells `listener` each record appended from now on, once it is durable (written and
   * fsync'd), in order, in this process. Records already in the journal are in `records`.
   * Returns the unsubscribe function.
   */
  subscribe(listener: (record: JournalRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the head of the last record is anchored; call it before a stage counts as done. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Number of anchor writes so far (fewer than records when a slow anchor coalesced them). */
  get anchorWrites(): number {
    return this.writer.writes;
  }

  /**
   * Closes the file and returns the anchoring of the last record: await it before the process
   * exits. Not awaiting it is safe (a failure is then only lost, never thrown elsewhere).
   */
  close(): Promise<void> {
    closeSync(this.fd);
    const flushed = this.flush()
      .catch((error: unknown) => {
        this.writer.stop();
        throw error;
      })
      .finally(() => this.release?.());
    flushed.catch(() => undefined);
    return flushed;
  }

  private head(): JournalHead {
    return signHead(this.key, { runId: this.runId, jid: this.jid, count: this.records.length, lastHash: this.lastHash, at: this.clock().toISOString() });
  }
}

/**
 * Reads a journal file and verifies its chain, MACs and anchored head without opening it for
 * writing and without creating a key (the default stores, or other file stores).
 */
export function readJournal(path: string, options: JournalStores = {}): { records: JournalRecord[]; verify: VerifyResult; tornTail: boolean } {
  const { keys, anchor, runId } = stores(path, options);
  if (!isSyncKeys(keys) || !isSyncAnchor(anchor)) {
    throw new FerryError('internal', 'readJournal cannot wait for cluster stores', { fix: 'this is a bug in Ferry: use verifyJournal' });
  }
  const heads = anchor.listSync(runId);
  return check(path, keys.readSync(), keys.where, anchor.where, heads);
}

/** `readJournal` with any stores (a Secret, a ConfigMap). */
export async function verifyJournal(path: string, options: JournalStores = {}): Promise<{ records: JournalRecord[]; verify: VerifyResult; tornTail: boolean }> {
  const { keys, anchor, runId } = stores(path, options);
  // The heads first: a live run writes the file before its head, so read in this order a
  // journal is never shorter than its head unless records were removed.
  const heads = await anchor.list(runId);
  return check(path, await keys.read(), keys.where, anchor.where, heads);
}

/** Every whole record in the file, verified or not: what a tampered journal claims (for `ferry status`). */
export function recordsAsWritten(path: string): JournalRecord[] {
  if (!existsSync(path)) return [];
  const records: JournalRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      const record = JSON.parse(line) as JournalRecord;
      if (record && typeof record === 'object' && typeof record.type === 'string') records.push(record);
    } catch {
      // a damaged or torn line says nothing
    }
  }
  return records;
}

function check(path: string, key: JournalKey | undefined, keyWhere: string, anchorWhere: string, heads: JournalHead[]) {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const { records, verify } = verifyJournalText(text, { key, keyWhere, anchorWhere, heads });
  return { records, verify, tornTail: verify.tornTail };
}

function stores(path: string, options: JournalStores): { keys: JournalKeyStore; anchor: JournalAnchor; runId: string } {
  const defaults = options.keys && options.anchor ? undefined : defaultJournalStores();
  return { keys: options.keys ?? defaults!.keys, anchor: options.anchor ?? defaults!.anchor, runId: options.runId ?? basename(dirname(resolve(path))) };
}

function isSyncKeys(keys: JournalKeyStore): keys is SyncKeyStore {
  return 'obtainSync' in keys && 'readSync' in keys;
}

function isSyncAnchor(anchor: JournalAnchor): anchor is SyncAnchor {
  return typeof anchor.writeSync === 'function' && typeof anchor.listSync === 'function';
}

/** Verifies what is there, refuses a tampered journal, drops a torn tail; the journal id to anchor under. */
function load(path: string, key: JournalKey, keyWhere: string, anchor: JournalAnchor, heads: JournalHead[]): { records: JournalRecord[]; jid: string } {
  mkdirSync(dirname(path), { recursive: true });
  const { records, verify } = check(path, key, keyWhere, anchor.where, heads);
  if (!verify.ok) throw journalError(path, verify);
  if (verify.tornTail) rewriteWithout(path, records);
  return { records, jid: verify.jid ?? randomBytes(8).toString('hex') };
}

/** The refusal `ferry resume`/`rollback` print: the first bad record, or why it cannot be vouched for. */
export function journalError(path: string, verify: VerifyResult): FerryError {
  const fix = 'the journal was edited or damaged, or its key or anchor is not the one it was written with; `ferry audit verify` tells where (restore the journal from a copy, or pass the key and anchor options the run used)';
  if (verify.brokenAt) {
    return new FerryError('journal', `journal is not intact at record ${verify.brokenAt.seq}: ${verify.brokenAt.reason}`, { location: { file: path, line: verify.brokenAt.line }, fix });
  }
  return new FerryError('journal', `journal cannot be trusted: ${verify.problem}`, { location: { file: path }, fix });
}

function rewriteWithout(path: string, records: JournalRecord[]): void {
  const fd = openSync(path, 'w');
  writeSync(fd, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  fsyncSync(fd);
  closeSync(fd);
}
