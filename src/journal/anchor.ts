import { FerryError, toFerryError } from '../util/errors.js';
import type { JournalKey } from './key.js';
import { canonicalJson } from './record.js';

/**
 * The chain head of one journal, kept outside the run directory: how many records the
 * journal had and the hash of the last, signed with the journal key. A journal shorter than
 * its anchor lost records; one whose record at `count` has another hash was rewritten.
 */
export interface JournalHead {
  runId: string;
  /** The journal's id (from its first keyed record): two runs with the same id never share an anchor. */
  jid: string;
  count: number;
  lastHash: string;
  kid: string;
  at: string;
  mac: string;
}

/**
 * Where heads are kept: a file next to the key, or a ConfigMap on the target cluster. An
 * anchor with `writeSync` is written inside `append` (no window at all); others are written
 * in order by `AnchorWriter`, latest head only.
 */
export interface JournalAnchor {
  /** For messages: the directory or the ConfigMap. */
  readonly where: string;
  read(runId: string, jid: string): Promise<JournalHead | undefined>;
  /** Every journal anchored under this run id (to notice MACs stripped from a whole journal). */
  list(runId: string): Promise<JournalHead[]>;
  write(head: JournalHead): Promise<void>;
  writeSync?(head: JournalHead): void;
  readSync?(runId: string, jid: string): JournalHead | undefined;
  listSync?(runId: string): JournalHead[];
}

export function signHead(key: JournalKey, head: Omit<JournalHead, 'mac' | 'kid'>): JournalHead {
  const unsigned = { ...head, kid: key.id };
  return { ...unsigned, mac: key.mac('head', canonicalJson(unsigned)) };
}

export function headIsSigned(key: JournalKey, head: JournalHead): boolean {
  const { mac, ...unsigned } = head;
  return key.verify('head', canonicalJson(unsigned), mac);
}

/** A head as stored, or undefined when it is not one (a damaged anchor reads as a forged one). */
export function parseHead(text: string): JournalHead | undefined {
  try {
    const head = JSON.parse(text) as JournalHead;
    return typeof head.count === 'number' && typeof head.lastHash === 'string' && typeof head.mac === 'string' ? head : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes heads to a slow anchor (the cluster) without slowing `append`: one write in flight,
 * and while it is, only the newest head waits (older ones are superseded, the anchor only
 * needs the latest). So the cost per record is constant, and the anchor trails the file by
 * at most the records appended during one write. A failed write is retried with back-off;
 * `flush` waits until the newest head is written, or fails after `timeoutMs`.
 */
export class AnchorWriter {
  private pending: JournalHead | undefined;
  private written: JournalHead | undefined;
  private running: Promise<void> | undefined;
  private lastError: FerryError | undefined;
  private stopped = false;
  /** Number of writes made (for the measurements in docs/architecture.md). */
  writes = 0;

  constructor(private readonly anchor: JournalAnchor, private readonly timeoutMs = 30_000) {}

  submit(head: JournalHead): void {
    if (this.anchor.writeSync) {
      this.anchor.writeSync(head);
      this.written = head;
      this.writes++;
      return;
    }
    this.pending = head;
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    let delay = 100;
    while (this.pending && !this.stopped) {
      const head = this.pending;
      try {
        await this.anchor.write(head);
        this.writes++;
        this.written = head;
        this.lastError = undefined;
        if (this.pending === head) this.pending = undefined;
        delay = 100;
      } catch (error) {
        this.lastError = toFerryError(error);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  /** Resolves once the newest submitted head is in the anchor. */
  async flush(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.running) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new FerryError('journal.anchor', `could not write the journal head (record ${this.pending?.count}) to ${this.anchor.where} within ${this.timeoutMs >= 1000 ? `${Math.round(this.timeoutMs / 1000)} s` : `${this.timeoutMs} ms`}${this.lastError ? `: ${this.lastError.message}` : ''}`, {
          fix: 'check the cluster is reachable and this user may write ConfigMaps in that namespace; until it is anchored, removing the last records could go unnoticed',
        });
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  }

  /** Gives up on heads not yet written (after a failed `flush`), so the process can exit. */
  stop(): void {
    this.stopped = true;
  }

  get latestWritten(): JournalHead | undefined {
    return this.written;
  }
}
