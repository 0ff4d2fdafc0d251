import { createHash } from 'node:crypto';

/**
 * One journal record. Every step transition of a run is one record; the run's state is
 * derived from them and they are also the audit trail. Each record carries the hash of the
 * one before, so removing, reordering or editing any record breaks the chain.
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

export function hashRecord(record: Omit<JournalRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(record)).digest('hex');
}
