import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type JournalStores } from '../../src/journal/journal.js';
import { FileAnchor } from '../../src/journal/anchors/file.js';
import { FileKeyStore } from '../../src/journal/keys/file.js';

export interface TestJournalFiles {
  /** The fresh temp dir holding `runs/<run>/journal.jsonl` and `config/` (key file, anchors). */
  dir: string;
  path: string;
  stores: JournalStores & { keys: FileKeyStore; anchor: FileAnchor };
}

/**
 * Where a test journal lives: a run directory in a fresh temp dir, with its own key file and
 * anchors — never the user's ~/.config/ferry ones, so tests neither read nor touch real keys.
 */
export function testJournalFiles(prefix: string, run = 'r-1'): TestJournalFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: join(dir, 'runs', run, 'journal.jsonl'),
    stores: { keys: new FileKeyStore(join(dir, 'config', 'journal.key')), anchor: new FileAnchor(join(dir, 'config', 'anchors')) },
  };
}

/** A journal opened in a fresh temp dir of its own (see testJournalFiles). */
export function openTestJournal(prefix: string, run = 'r-1'): Journal {
  const { path, stores } = testJournalFiles(prefix, run);
  return Journal.open(path, stores);
}
