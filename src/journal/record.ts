import { createHash, createHmac } from 'node:crypto';
import type { JournalKey } from './key.js';

/**
 * One journal record. Every step transition of a run is one record; the run's state is
 * derived from them and they are also the audit trail. Each record carries the hash of the
 * one before, so removing, reordering or editing any record breaks the chain; and, since
 * anyone can recompute a plain hash, an HMAC with a key kept outside the run directory
 * (`mac`, with the key's id `kid`), so a rewritten chain does not verify either.
 */
export interface JournalRecord<T = Record<string, unknown>> {
  seq: number;
  /** ISO time the record was written. */
  at: string;
  type: string;
  /** Who caused it: `ferry` (the orchestrator), or the user named by an approval. */
  actor: string;
  data: T;
  prev: string;
  /** Id of the key the MAC was made with (a hash of it, never the key). Absent in journals written before keys. */
  kid?: string;
  /** Set on the first keyed record only: the journal's id, under which its head is anchored. */
  jid?: string;
  /** HMAC-SHA256 of the canonical record without `mac` and `hash`. */
  mac?: string;
  hash: string;
}

export const GENESIS = '0'.repeat(64);

/** Canonical JSON: keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The chain hash covers everything but itself (the MAC included), as before keys existed. */
export function hashRecord(record: Omit<JournalRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(record)).digest('hex');
}

/** The MAC covers everything but itself and the hash; `prev` in it seals every record before. */
export function macRecord(key: JournalKey, record: Omit<JournalRecord, 'hash' | 'mac'> & { mac?: string; hash?: string }): string {
  return key.mac('record', macText(record));
}

/** What a record's MAC signs: the canonical record without `mac` and `hash`. */
export function macText(record: Omit<JournalRecord, 'hash' | 'mac'> & { mac?: string; hash?: string }): string {
  const { mac: _mac, hash: _hash, ...body } = record;
  return canonicalJson(body);
}

export function hmacHex(secret: Buffer, domain: string, text: string): string {
  return createHmac('sha256', secret).update(`ferry.journal.${domain}.v1\n`).update(text).digest('hex');
}
