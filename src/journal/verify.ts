import { headIsSigned, type JournalHead } from './anchor.js';
import type { JournalKey } from './key.js';
import { GENESIS, hashRecord, macText, type JournalRecord } from './record.js';

export interface VerifyResult {
  /** Nothing wrong found and everything that can be checked was (MACs, anchored head). */
  ok: boolean;
  records: number;
  lastHash: string;
  /** The first bad record (its seq and line in the file), and why. */
  brokenAt?: { seq: number; line: number; reason: string };
  /** Why the journal cannot be vouched for when no single record is to blame (no key, no anchor). */
  problem?: string;
  /** Whether records carry MACs; journals written before keys have none and prove nothing. */
  keyed: boolean;
  /** Records written before the journal was keyed (an older run resumed): sealed by the first keyed one. */
  unkeyedRecords: number;
  /** Id and place of the key the MACs were checked with (never the key). */
  key?: { id: string; where: string };
  /** The anchored head the journal was checked against. */
  anchor?: { where: string; count: number; at: string };
  /** Records after the anchored head: written while its update was in flight, or just before a crash. */
  unanchored: number;
  /** The last line was cut by a crash mid-write (not part of the journal; dropped on open). */
  tornTail: boolean;
  /** The journal's id, under which its head is anchored. */
  jid?: string;
}

export interface VerifyContext {
  /** Undefined when no key could be found: MACs present cannot then be checked. */
  key: JournalKey | undefined;
  keyWhere: string;
  anchorWhere: string;
  /** Every head anchored under the run id, read before the journal (a live run only moves forward). */
  heads: JournalHead[];
}

const short = (hash: string) => `${hash.slice(0, 12)}…`;

/** Checks a journal's text: chain, MACs and anchored head. Pure; the callers read the files and anchors. */
export function verifyJournalText(text: string, context: VerifyContext): { records: JournalRecord[]; verify: VerifyResult } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const records: JournalRecord[] = [];
  const { key } = context;
  let prev = GENESIS;
  let firstKeyed: JournalRecord | undefined;
  let unkeyedRecords = 0;
  let macUnchecked = false;
  let tornTail = false;
  const base = () => ({
    records: records.length, lastHash: prev, keyed: firstKeyed !== undefined, unkeyedRecords, unanchored: 0, tornTail,
    ...(key ? { key: { id: key.id, where: key.where } } : {}), ...(firstKeyed?.jid ? { jid: firstKeyed.jid } : {}),
  });
  const broken = (seq: number, line: number, reason: string) => ({ records, verify: { ...base(), ok: false, brokenAt: { seq, line, reason } } });

  for (let i = 0; i < lines.length; i++) {
    let record: JournalRecord;
    try {
      record = JSON.parse(lines[i]!) as JournalRecord;
      if (record === null || typeof record !== 'object') throw new Error('not a record');
    } catch {
      // Only the very last line can be torn by a crash; anywhere else it is damage.
      if (i === lines.length - 1) {
        tornTail = true;
        break;
      }
      return broken(records.length + 1, i + 1, 'not a JSON record');
    }
    const { hash, ...body } = record;
    const expected = records.length + 1;
    let reason = record.prev !== prev ? 'does not point at the record before it'
      : record.seq !== expected ? `sequence ${record.seq} where ${expected} was expected`
      : hashRecord(body) !== hash ? 'its content does not match its hash' : undefined;
    if (!reason && record.mac === undefined && firstKeyed) reason = `has no MAC, though the records before it have: MACs were stripped`;
    if (!reason && record.mac !== undefined && key) {
      if (record.kid !== key.id) reason = `was signed with key ${record.kid}, not with the key from ${key.where} (${key.id}): check with the key the run was written with; otherwise the journal was rewritten with another key`;
      else if (!key.verify('record', macText(record), record.mac)) reason = 'its MAC does not match: this record, or the order of the records before it, was rewritten (and the hash chain recomputed to hide it)';
    }
    if (!reason && record.mac !== undefined && !firstKeyed && !record.jid) reason = 'the first keyed record has no journal id';
    if (reason) return broken(typeof record.seq === 'number' ? record.seq : expected, i + 1, reason);
    if (record.mac === undefined) unkeyedRecords++;
    else {
      firstKeyed ??= record;
      if (!key) macUnchecked = true;
    }
    records.push(record);
    prev = hash;
  }

  if (macUnchecked) {
    return { records, verify: { ...base(), ok: false, problem: `the records carry MACs but there is no key at ${context.keyWhere} to check them with: use the key the run was written with (--journal-key-file or --journal-key-secret)` } };
  }
  return checkAnchor(records, firstKeyed?.jid, context, base());
}

function checkAnchor(records: JournalRecord[], jid: string | undefined, context: VerifyContext, base: Omit<VerifyResult, 'ok'>): { records: JournalRecord[]; verify: VerifyResult } {
  const n = records.length;
  const result = (extra: Partial<VerifyResult> & { ok: boolean }) => ({ records, verify: { ...base, ...extra } });
  const candidates = jid ? context.heads.filter((head) => head.jid === jid) : context.heads;
  if (candidates.length === 0) {
    if (!jid) return result({ ok: true });
    return result({ ok: false, problem: `no anchored head for this journal (journal id ${jid}) in ${context.anchorWhere}: it was removed (removing the last records would then go unnoticed), or the run anchored elsewhere (--journal-anchor)` });
  }
  // An unkeyed journal with a head: sealed when an old run was resumed. Any head that matches will do.
  const head = candidates.find((h) => matches(records, h)) ?? candidates[0]!;
  const anchor = { where: context.anchorWhere, count: head.count, at: head.at };
  if (context.key && !headIsSigned(context.key, head)) {
    return result({ ok: false, anchor, problem: `the anchored head in ${context.anchorWhere} is not signed with the key from ${context.key.where}: it was forged or damaged` });
  }
  if (head.count > n) {
    return result({ ok: false, anchor, brokenAt: { seq: n + 1, line: n + 1, reason: `missing: the anchored head (${context.anchorWhere}, ${head.at}) says the journal had ${head.count} records, the last with hash ${short(head.lastHash)}; the file ends after record ${n}` } });
  }
  if (!jid && !matches(records, head)) {
    // No MAC anywhere, yet a keyed writer anchored this run: nothing can say which record changed.
    return result({ ok: false, anchor, brokenAt: { seq: 1, line: 1, reason: `has no MAC, and the journal does not match its anchored head (${context.anchorWhere}, ${head.at}: ${head.count} records, hash ${short(head.lastHash)}): its MACs were stripped, or it was rewritten` } });
  }
  if (head.count > 0 && records[head.count - 1]!.hash !== head.lastHash) {
    return result({ ok: false, anchor, brokenAt: { seq: head.count, line: head.count, reason: `does not match the anchored head (${context.anchorWhere}, ${head.at}: hash ${short(head.lastHash)}): the journal was rewritten` } });
  }
  if (!jid && head.count < n) {
    return result({ ok: false, anchor, brokenAt: { seq: head.count + 1, line: head.count + 1, reason: `has no MAC, though the journal was anchored for keyed records from here on (${context.anchorWhere}): MACs were stripped` } });
  }
  return result({ ok: true, anchor, unanchored: n - head.count });
}

function matches(records: JournalRecord[], head: JournalHead): boolean {
  return head.count >= 0 && head.count <= records.length && (head.count === 0 ? true : records[head.count - 1]!.hash === head.lastHash);
}
