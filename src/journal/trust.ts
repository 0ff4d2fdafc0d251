import { dirname, join } from 'node:path';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { MigrationPlan } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';
import type { JournalAnchor } from './anchor.js';
import { FileAnchor } from './anchors/file.js';
import { ConfigMapAnchor } from './anchors/kubernetes.js';
import { Journal, verifyJournal, type JournalOptions } from './journal.js';
import type { JournalKeyStore } from './key.js';
import { defaultKeyFile, FileKeyStore } from './keys/file.js';
import { DEFAULT_KEY_SECRET, SecretKeyStore } from './keys/kubernetes.js';
import { FERRY_NAMESPACE, parseObjectRef } from './kube.js';

/**
 * Where a run's journal key and anchor live, as the operator chose them (flags or
 * environment). The run directory never says: whoever could edit it could point it at a key
 * of their own, so readers (`status`, `audit verify`) take the same options as writers.
 */
export interface JournalTrustConfig {
  /** A key file (`--journal-key-file`, FERRY_JOURNAL_KEY_FILE). Default: `$XDG_CONFIG_HOME/ferry/journal.key` or `~/.config/ferry/journal.key`. */
  keyFile?: string;
  /** A Secret on the target cluster (`--journal-key-secret [ns/name]`, FERRY_JOURNAL_KEY_SECRET); `true` for `ferry-system/ferry-journal-key`. */
  keySecret?: string | true;
  /** `file` (next to the key file) or `kubernetes` (a ConfigMap on the target). Default: `kubernetes` with a Secret key, else `file`. */
  anchor?: 'file' | 'kubernetes';
  /** Directory of file anchors (FERRY_JOURNAL_ANCHOR_DIR). Default: `anchors/` next to the key file. */
  anchorDir?: string;
}

/** The configuration the environment gives (each flag has its variable). */
export function journalTrustFromEnv(env: NodeJS.ProcessEnv = process.env): JournalTrustConfig {
  const anchor = env.FERRY_JOURNAL_ANCHOR;
  if (anchor && anchor !== 'file' && anchor !== 'kubernetes') {
    throw new FerryError('usage', `FERRY_JOURNAL_ANCHOR is "${anchor}"`, { location: { field: 'FERRY_JOURNAL_ANCHOR' }, fix: 'set it to file or kubernetes' });
  }
  return {
    ...(env.FERRY_JOURNAL_KEY_FILE ? { keyFile: env.FERRY_JOURNAL_KEY_FILE } : {}),
    ...(env.FERRY_JOURNAL_KEY_SECRET ? { keySecret: env.FERRY_JOURNAL_KEY_SECRET === 'true' ? true : env.FERRY_JOURNAL_KEY_SECRET } : {}),
    ...(anchor ? { anchor: anchor as 'file' | 'kubernetes' } : {}),
    ...(env.FERRY_JOURNAL_ANCHOR_DIR ? { anchorDir: env.FERRY_JOURNAL_ANCHOR_DIR } : {}),
  };
}

export interface RunJournalContext {
  runId: string;
  /** The run's plan: its target cluster holds the Secret and the ConfigMap. */
  plan: MigrationPlan;
  /** Flags over environment over defaults (see `journalTrustFromEnv`). */
  trust?: JournalTrustConfig;
  kubeconfig?: string;
  targetContext?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunJournalStores {
  keys: JournalKeyStore;
  anchor: JournalAnchor;
  runId: string;
  /** Closes the cluster client, if one was made. */
  release(): void;
}

/** Builds the key store and anchor a run's journal uses. */
export function runJournalStores(context: RunJournalContext): RunJournalStores {
  const env = context.env ?? process.env;
  const given = context.trust ?? {};
  const fromEnv = journalTrustFromEnv(env);
  // A key named on the command line replaces the environment's, whichever kind each is.
  if (given.keyFile !== undefined || given.keySecret !== undefined) {
    delete fromEnv.keyFile;
    delete fromEnv.keySecret;
  }
  const config: JournalTrustConfig = { ...fromEnv, ...given };
  if (config.keyFile && config.keySecret) {
    throw new FerryError('usage', 'both a journal key file and a journal key Secret are given', { location: { field: '--journal-key-file' }, fix: 'keep one of --journal-key-file (FERRY_JOURNAL_KEY_FILE) and --journal-key-secret (FERRY_JOURNAL_KEY_SECRET)' });
  }
  let client: KubeClient | undefined;
  const cluster = () => (client ??= targetClusterClient(context));
  const keyFile = config.keyFile ?? defaultKeyFile(env);
  const secret = config.keySecret === undefined ? undefined : config.keySecret === true ? DEFAULT_KEY_SECRET : parseObjectRef(config.keySecret, '--journal-key-secret');
  const keys: JournalKeyStore = secret ? new SecretKeyStore(cluster(), secret) : new FileKeyStore(keyFile);
  const anchor: JournalAnchor = (config.anchor ?? (secret ? 'kubernetes' : 'file')) === 'kubernetes'
    ? new ConfigMapAnchor(cluster(), secret?.namespace ?? FERRY_NAMESPACE)
    : new FileAnchor(config.anchorDir ?? join(dirname(keyFile), 'anchors'));
  return { keys, anchor, runId: context.runId, release: () => client?.close() };
}

/** Opens a run's journal for writing with the stores its configuration names (what drive.ts calls). */
export async function openRunJournal(path: string, context: RunJournalContext & Pick<JournalOptions, 'clock' | 'anchorTimeoutMs'>): Promise<Journal> {
  const stores = runJournalStores(context);
  try {
    return await Journal.openAsync(path, { ...stores, release: stores.release, ...(context.clock ? { clock: context.clock } : {}), ...(context.anchorTimeoutMs ? { anchorTimeoutMs: context.anchorTimeoutMs } : {}) });
  } catch (error) {
    stores.release();
    throw error;
  }
}

/** Reads and verifies a run's journal with the stores its configuration names (status, audit verify). */
export async function verifyRunJournal(path: string, context: RunJournalContext): ReturnType<typeof verifyJournal> {
  const stores = runJournalStores(context);
  try {
    return await verifyJournal(path, stores);
  } finally {
    stores.release();
  }
}

function targetClusterClient(context: RunJournalContext): KubeClient {
  const name = context.targetContext ?? context.plan.spec.target.context;
  if (!name) throw new FerryError('plan', 'the journal key or anchor is on the target cluster, but the plan names no target context', { location: { field: 'spec.target.context' }, fix: 'set spec.target.context, or keep the key in a file (--journal-key-file)' });
  const kubeconfig = context.plan.spec.target.kubeconfig ?? context.kubeconfig;
  return new KubeClient(loadKubeConfig({ context: name, ...(kubeconfig ? { kubeconfig } : {}) }));
}
