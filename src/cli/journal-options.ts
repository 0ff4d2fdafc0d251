import { Option, type Command } from 'commander';
import type { JournalTrustConfig } from '../journal/trust.js';

/**
 * Where the journal key and anchor live: the same options on commands that write a journal
 * (run, resume, rollback) and on those that read one (status, audit verify).
 */
export function addJournalTrustOptions(command: Command): Command {
  return command
    .option('--journal-key-file <file>', 'HMAC key of the journal (created 0600 if missing; default $FERRY_JOURNAL_KEY_FILE, else ~/.config/ferry/journal.key)')
    .option('--journal-key-secret [namespace/name]', 'keep the journal key in a Secret on the target cluster (default ferry-system/ferry-journal-key; created if missing)')
    .addOption(new Option('--journal-anchor <where>', 'where the chain head is anchored: file (next to the key) or kubernetes (ConfigMap ferry-system/ferry-journal-<run> on the target; default with --journal-key-secret)').choices(['file', 'kubernetes']));
}

/** The options given, as `runJournalStores` takes them (unset ones fall back to the environment). */
export function journalTrustConfig(command: Command): JournalTrustConfig {
  const { journalKeyFile, journalKeySecret, journalAnchor } = command.opts<{ journalKeyFile?: string; journalKeySecret?: string | true; journalAnchor?: 'file' | 'kubernetes' }>();
  return {
    ...(journalKeyFile ? { keyFile: journalKeyFile } : {}),
    ...(journalKeySecret !== undefined ? { keySecret: journalKeySecret } : {}),
    ...(journalAnchor ? { anchor: journalAnchor } : {}),
  };
}
