import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FerryError } from '../../util/errors.js';
import { keyFromText, type JournalKey, type JournalKeyStore } from '../key.js';

/** `$XDG_CONFIG_HOME/ferry/journal.key`, else `~/.config/ferry/journal.key`: one key per user. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'ferry', 'journal.key');
}

/**
 * A key in a file the operator names (or the per-user default). Created on first use with
 * 32 random bytes (base64), mode 0600 in a 0700 directory. Creation is a link of a fully
 * written temporary file, so two runs starting at once end up with the same key, and a
 * reader never sees half a key.
 */
export class FileKeyStore implements JournalKeyStore {
  constructor(readonly path: string) {}

  get where(): string {
    return this.path;
  }

  async obtain(): Promise<JournalKey> {
    return this.obtainSync();
  }

  async read(): Promise<JournalKey | undefined> {
    return this.readSync();
  }

  readSync(): JournalKey | undefined {
    let raw: Buffer;
    try {
      raw = readFileSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new FerryError('journal.key', `cannot read the journal key: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        location: { file: this.path }, fix: 'make the file readable by this user, or name another with --journal-key-file', cause: error,
      });
    }
    return keyFromText(raw, this.path);
  }

  obtainSync(): JournalKey {
    const existing = this.readSync();
    if (existing) return existing;
    const temporary = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const fd = openSync(temporary, 'wx', 0o600);
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
      fsyncSync(fd);
      closeSync(fd);
      try {
        linkSync(temporary, this.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    } catch (error) {
      throw new FerryError('journal.key', `cannot create the journal key: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        location: { file: this.path }, fix: 'name a writable place with --journal-key-file (or FERRY_JOURNAL_KEY_FILE), or keep the key in the cluster with --journal-key-secret', cause: error,
      });
    } finally {
      rmSync(temporary, { force: true });
    }
    return this.readSync()!;
  }
}
