import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../util/errors.js';
import { hmacHex } from './record.js';

/** Fewer bytes than this and a key could be guessed; Ferry makes 32 random bytes. */
export const MIN_KEY_BYTES = 32;

/**
 * The journal's HMAC key. The bytes live in a private field and every way of printing the
 * object (JSON, util.inspect, template strings) shows only its id and where it came from,
 * so the key cannot reach output, logs or the journal by accident.
 */
export class JournalKey {
  readonly #secret: Buffer;
  /** A hash of the key (not reversible), written in each record so a wrong key can be told from an edit. */
  readonly id: string;

  constructor(secret: Buffer, readonly where: string) {
    if (secret.length < MIN_KEY_BYTES) {
      throw new FerryError('journal.key', `the journal key at ${where} is ${secret.length} bytes; at least ${MIN_KEY_BYTES} are needed`, {
        fix: 'delete it and let Ferry create one, or write at least 32 random bytes (e.g. `head -c 32 /dev/urandom | base64`)',
      });
    }
    this.#secret = Buffer.from(secret);
    this.id = createHash('sha256').update('ferry.journal.key-id.v1\n').update(secret).digest('hex').slice(0, 16);
  }

  mac(domain: string, text: string): string {
    return hmacHex(this.#secret, domain, text);
  }

  /** Constant-time comparison of a MAC read from a file with the one this key makes. */
  verify(domain: string, text: string, mac: unknown): boolean {
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
    return timingSafeEqual(Buffer.from(this.mac(domain, text), 'hex'), Buffer.from(mac, 'hex'));
  }

  toString(): string {
    return `journal key ${this.id} (${this.where})`;
  }

  toJSON(): Record<string, string> {
    return { id: this.id, where: this.where };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Where the key lives. Writers `obtain` it (created when missing); readers (`status`,
 * `audit verify`) only `read` it, so looking at a run never creates a key.
 */
export interface JournalKeyStore {
  /** For messages: the file or the Secret (never the key). */
  readonly where: string;
  obtain(): Promise<JournalKey>;
  read(): Promise<JournalKey | undefined>;
}

/** Key material as stored: surrounding whitespace (a trailing newline from an editor) is not part of it. */
export function keyFromText(raw: Buffer, where: string): JournalKey {
  return new JournalKey(Buffer.from(raw.toString('latin1').trim(), 'latin1'), where);
}
