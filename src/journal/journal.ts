import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { FerryError } from '../util/errors.js';
import { GENESIS, hashRecord, type JournalRecord } from './record.js';
import { redactForJournal } from './redact.js';

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first record that does not chain (its seq), and why. */
  brokenAt?: { seq: number; line: number; reason: string };
  lastHash: string;
}

/**
 * An append-only, fsync'd, hash-chained journal in JSON Lines. Opening it verifies the chain
 * and drops a torn last line (a crash mid-write), so a resumed run continues from the last
 * whole record. One writer at a time: the run's lock (see run/lock.ts) guarantees it.
 */
export class Journal {
  private fd: number;
  private lastHash: string;
  private nextSeq: number;
  readonly records: JournalRecord[];

  private constructor(readonly path: string, records: JournalRecord[], private readonly clock: () => Date) {
    this.records = records;
    this.lastHash = records.at(-1)?.hash ?? GENESIS;
    this.nextSeq = (records.at(-1)?.seq ?? 0) + 1;
    this.fd = openSync(path, 'a');
  }

  static open(path: string, options: { clock?: () => Date } = {}): Journal {
    mkdirSync(dirname(path), { recursive: true });
    const { records, verify, tornTail } = readJournal(path);
    if (!verify.ok && !tornTail) {
      throw new FerryError('journal', `journal is not intact at record ${verify.brokenAt!.seq}: ${verify.brokenAt!.reason}`, {
        location: { file: path, line: verify.brokenAt!.line },
        fix: 'the journal was edited or damaged; restore it from a copy (`ferry audit verify` tells where)',
      });
    }
    if (tornTail) rewriteWithout(path, records);
    return new Journal(path, records, options.clock ?? (() => new Date()));
  }

  append<T extends Record<string, unknown>>(type: string, data: T, actor = 'ferry'): JournalRecord<T> {
    const body = { seq: this.nextSeq, at: this.clock().toISOString(), type, actor, data: redactForJournal(data) as T, prev: this.lastHash };
    const record = { ...body, hash: hashRecord(body) };
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
    this.records.push(record);
    this.lastHash = record.hash;
    this.nextSeq++;
    return record;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads a journal file and verifies its chain without opening it for writing. */
export function readJournal(path: string): { records: JournalRecord[]; verify: VerifyResult; tornTail: boolean } {
  if (!existsSync(path)) return { records: [], verify: { ok: true, records: 0, lastHash: GENESIS }, tornTail: false };
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const records: JournalRecord[] = [];
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      // Only the very last line can be torn by a crash; anywhere else it is damage.
      const torn = i === lines.length - 1;
      return { records, verify: { ok: false, records: records.length, lastHash: prev, brokenAt: { seq: records.length + 1, line: i + 1, reason: 'not a JSON record' } }, tornTail: torn };
    }
    const { hash, ...body } = record;
    const reason = record.prev !== prev ? 'does not point at the record before it'
      : record.seq !== records.length + 1 ? `sequence ${record.seq} where ${records.length + 1} was expected`
      : hashRecord(body) !== hash ? 'its content does not match its hash' : undefined;
    if (reason) return { records, verify: { ok: false, records: records.length, lastHash: prev, brokenAt: { seq: record.seq, line: i + 1, reason } }, tornTail: false };
    records.push(record);
    prev = hash;
  }
  return { records, verify: { ok: true, records: records.length, lastHash: prev }, tornTail: false };
}

function rewriteWithout(path: string, records: JournalRecord[]): void {
  const fd = openSync(path, 'w');
  writeSync(fd, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  fsyncSync(fd);
  closeSync(fd);
}
