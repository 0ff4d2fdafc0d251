import { parseDuration } from '../analysis/gates-schema.js';
import { sourceClient } from '../apply/slice.js';
import type { Journal } from '../journal/journal.js';
import type { KubeClient } from '../kube/client.js';
import type { MigrationPlan } from '../plan/schema.js';
import { resolveReference } from '../run/references.js';
import type { RunFiles } from '../run/store.js';
import { FerryError, toFerryError } from '../util/errors.js';
import type { ResolvedReceiver } from './deliver.js';
import { Notifier } from './notifier.js';
import type { NotificationReceiver } from './schema.js';

export { Notifier, type ReceiverReport } from './notifier.js';
export { deliver, signWebhook, slackBody, webhookBody, type ResolvedReceiver } from './deliver.js';
export { notificationOf, type Notification } from './events.js';

/** How long the end of a drive waits for queued notifications (the run is over; its process should exit soon). */
export const FLUSH_BOUND_MS = 5_000;

export interface AttachNotificationsOptions {
  kubeconfig?: string;
  /** Where `env:` references are read (process.env by default). */
  env?: Record<string, string | undefined>;
  /** Where delivery trouble is told (the CLI's progress lines); never a URL or a key. */
  log?: (line: string) => void;
  flushBoundMs?: number;
}

/**
 * The plan's `spec.notifications`, attached to a run's journal (through the same hook as
 * `DriveOptions.onJournal`): only records this process appends are told — a resumed run's
 * history was told by the process that wrote it. Returns undefined for a plan without
 * receivers. The returned function flushes (bounded) and, when something could not be
 * delivered, journals one `notifications-undelivered` record naming the receivers and counts —
 * one record per drive, not one per delivery, so a receiver that is down cannot flood the
 * audit trail (each journal record is an fsync and an anchor write).
 */
export function attachNotifications(options: AttachNotificationsOptions = {}): (journal: Journal, files: RunFiles, plan: MigrationPlan) => (() => Promise<void>) | undefined {
  return (journal, files, plan) => {
    const receivers = plan.spec.notifications ?? [];
    if (receivers.length === 0) return undefined;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    let client: KubeClient | undefined;
    const cluster = () => (client ??= sourceClient(plan, options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}));
    const resolving = receivers.map((receiver, index) => resolveReceiver(receiver, index, cluster, options.env ?? process.env).catch((error: unknown) => {
      log(`notifications to ${receiver.name} are off for this run: ${toFerryError(error).oneLine()}`);
      return undefined;
    }));
    // The source cluster client is only needed to read Secrets: closed once every receiver is resolved.
    void Promise.all(resolving).then(() => client?.close());
    const notifier = new Notifier(receivers.map((receiver, index) => ({ name: receiver.name, ...(receiver.events ? { events: receiver.events } : {}), resolved: resolving[index]! })), { run: files.id, plan: plan.metadata.name, log });
    const unsubscribe = journal.subscribe((record) => notifier.notify(record));
    return async () => {
      unsubscribe();
      const reports = await notifier.flush(options.flushBoundMs ?? FLUSH_BOUND_MS);
      const undelivered = reports.filter((report) => report.undelivered > 0);
      if (undelivered.length === 0) return;
      for (const report of undelivered) log(`notifications to ${report.name}: ${report.undelivered} not delivered (${report.lastError ?? 'unknown'}), ${report.delivered} delivered`);
      journal.append('notifications-undelivered', { receivers: undelivered.map(({ name, delivered, undelivered: count, lastError }) => ({ name, delivered, undelivered: count, ...(lastError ? { lastError } : {}) })) });
    };
  };
}

async function resolveReceiver(receiver: NotificationReceiver, index: number, cluster: () => KubeClient | undefined, env: Record<string, string | undefined>): Promise<ResolvedReceiver> {
  const field = `spec.notifications[${index}]`;
  const url = receiver.url ?? (await resolveReference(receiver.urlFrom!, `${field}.urlFrom`, cluster, env)).trim();
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    // The value is not echoed: it is a secret (a Slack URL) or whatever the reference held.
    throw new FerryError('plan.reference', `${field}.urlFrom does not hold an http(s) URL`, { location: { field: `${field}.urlFrom` }, fix: 'store the whole URL, https://…, under that reference' });
  }
  const secret = receiver.secret ? await resolveReference(receiver.secret, `${field}.secret`, cluster, env) : undefined;
  return {
    name: receiver.name, type: receiver.type, url, ...(secret !== undefined ? { secret } : {}),
    ...(receiver.events ? { events: receiver.events } : {}),
    timeoutMs: parseDuration(receiver.timeout), retries: receiver.retries, giveUpAfterMs: parseDuration(receiver.giveUpAfter),
  };
}
