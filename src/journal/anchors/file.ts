import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FerryError } from '../../util/errors.js';
import { parseHead, type JournalAnchor, type JournalHead } from '../anchor.js';

/** Run ids become directory names: anything but letters, digits, `.`, `_` and `-` is replaced. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/**
 * Heads in files next to the key: `<dir>/<run id>/<journal id>.json`, replaced atomically
 * (write, fsync, rename) after every record. Synchronous: a local fsync costs about what the
 * journal's own does, and leaves no window in which the last records are unanchored.
 */
export class FileAnchor implements JournalAnchor {
  constructor(readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  private file(runId: string, jid: string): string {
    return join(this.dir, safe(runId), `${safe(jid)}.json`);
  }

  async read(runId: string, jid: string): Promise<JournalHead | undefined> {
    return this.readSync(runId, jid);
  }

  async list(runId: string): Promise<JournalHead[]> {
    return this.listSync(runId);
  }

  async write(head: JournalHead): Promise<void> {
    this.writeSync(head);
  }

  readSync(runId: string, jid: string): JournalHead | undefined {
    return readHeadFile(this.file(runId, jid));
  }

  listSync(runId: string): JournalHead[] {
    const dir = join(this.dir, safe(runId));
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => name.endsWith('.json'));
    } catch {
      return [];
    }
    return names.map((name) => readHeadFile(join(dir, name)) ?? damaged(join(dir, name)));
  }

  writeSync(head: JournalHead): void {
    const file = this.file(head.runId, head.jid);
    const temporary = `${file}.${process.pid}.new`;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const fd = openSync(temporary, 'w', 0o600);
      writeSync(fd, `${JSON.stringify(head)}\n`);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(temporary, file);
    } catch (error) {
      throw new FerryError('journal.anchor', `cannot write the journal head: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        location: { file }, fix: 'make the directory writable, or set FERRY_JOURNAL_ANCHOR_DIR (or anchor in the cluster with --journal-anchor kubernetes)', cause: error,
      });
    }
  }
}

function readHeadFile(file: string): JournalHead | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FerryError('journal.anchor', `cannot read the journal head: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { location: { file }, fix: 'make the file readable by this user', cause: error });
  }
  return parseHead(text) ?? damaged(file);
}

/** A head file that does not parse is reported as one that does not verify, never skipped. */
function damaged(file: string): JournalHead {
  return { runId: '', jid: file, count: -1, lastHash: '', kid: '', at: '', mac: '' };
}
