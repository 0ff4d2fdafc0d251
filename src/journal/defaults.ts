import { dirname, join } from 'node:path';
import { FileAnchor } from './anchors/file.js';
import { defaultKeyFile, FileKeyStore } from './keys/file.js';

/**
 * What a journal uses with no configuration: the per-user key file (or FERRY_JOURNAL_KEY_FILE)
 * and heads in `anchors/` next to it (or FERRY_JOURNAL_ANCHOR_DIR).
 */
export function defaultJournalStores(env: NodeJS.ProcessEnv = process.env): { keys: FileKeyStore; anchor: FileAnchor } {
  const keyFile = env.FERRY_JOURNAL_KEY_FILE || defaultKeyFile(env);
  return { keys: new FileKeyStore(keyFile), anchor: new FileAnchor(env.FERRY_JOURNAL_ANCHOR_DIR || join(dirname(keyFile), 'anchors')) };
}
