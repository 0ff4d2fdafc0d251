import type { JournalRecord } from '../journal/record.js';
import { deliver, type DeliveryOutcome, type ResolvedReceiver } from './deliver.js';
import { notificationOf, type Notification } from './events.js';

/** Notifications waiting per receiver beyond which new ones are dropped (counted and reported). */
const MAX_QUEUED = 500;

export interface ReceiverReport {
  name: string;
  delivered: number;
  /** Given up on after retries, dropped from a full queue, or still queued when the flush bound passed. */
  undelivered: number;
  lastError?: string;
}

export interface NotifierOptions {
  run: string;
  plan: string;
  /** Told when a receiver starts failing and when it recovers, and what a flush left undelivered; never a URL. */
  log: (line: string) => void;
}

interface Lane {
  receiver: Promise<ResolvedReceiver | undefined>;
  name: string;
  events?: ReadonlySet<string>;
  queue: Notification[];
  running: boolean;
  /** After a give-up, later notifications are tried once each until one is delivered. */
  failing: boolean;
  report: ReceiverReport;
  idle: Array<() => void>;
}

/**
 * Fans journal records out to receivers. `notify` only queues and returns, so a slow or failed
 * receiver never blocks or slows the run; each receiver has its own queue, delivered in
 * order (a notification waits for the one before it to be delivered or given up on).
 */
export class Notifier {
  private readonly lanes: Lane[];
  private readonly stop = new AbortController();

  /** `receivers`: by name, each resolved (URL and key) or undefined when it could not be. */
  constructor(receivers: Array<{ name: string; events?: readonly string[]; resolved: Promise<ResolvedReceiver | undefined> }>, private readonly options: NotifierOptions) {
    this.lanes = receivers.map(({ name, events, resolved }) => ({
      receiver: resolved, name, ...(events ? { events: new Set(events) } : {}),
      queue: [], running: false, failing: false, report: { name, delivered: 0, undelivered: 0 }, idle: [],
    }));
  }

  /** Queues the record's notification (if it means one) for each receiver that wants it; returns at once. */
  notify(record: JournalRecord): void {
    const notification = notificationOf(this.options.run, this.options.plan, record);
    if (!notification) return;
    for (const lane of this.lanes) {
      if (lane.events && !lane.events.has(notification.event)) continue;
      if (lane.queue.length >= MAX_QUEUED) {
        lane.report.undelivered++;
        lane.report.lastError = 'queue full';
        continue;
      }
      lane.queue.push(notification);
      if (!lane.running) void this.drain(lane);
    }
  }

  /**
   * Waits until every queue is empty or `boundMs` passed; then stops what is in flight and
   * counts what is left as undelivered. Returns each receiver's tally.
   */
  async flush(boundMs: number): Promise<ReceiverReport[]> {
    const drained = Promise.all(this.lanes.map((lane) => (lane.running || lane.queue.length > 0 ? new Promise<void>((resolve) => lane.idle.push(resolve)) : undefined)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, boundMs)))]);
    clearTimeout(timer);
    this.stop.abort();
    // In-flight attempts see the abort at once; what stays queued is counted by drain.
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    for (const lane of this.lanes) {
      if (lane.queue.length > 0) {
        lane.report.undelivered += lane.queue.length;
        lane.report.lastError ??= 'still queued when the run ended';
        lane.queue.length = 0;
      }
    }
    return this.reports();
  }

  reports(): ReceiverReport[] {
    return this.lanes.map((lane) => ({ ...lane.report }));
  }

  private async drain(lane: Lane): Promise<void> {
    lane.running = true;
    try {
      const receiver = await lane.receiver;
      for (let next = lane.queue.shift(); next; next = lane.queue.shift()) {
        if (this.stop.signal.aborted) {
          lane.queue.unshift(next);
          break;
        }
        if (!receiver) {
          lane.report.undelivered++;
          continue;
        }
        this.settle(lane, next, await deliver(receiver, next, { stop: this.stop.signal, ...(lane.failing ? { retries: 0 } : {}) }));
      }
    } finally {
      lane.running = false;
      for (const resolve of lane.idle.splice(0)) resolve();
    }
  }

  private settle(lane: Lane, notification: Notification, outcome: DeliveryOutcome): void {
    if (outcome.delivered) {
      lane.report.delivered++;
      if (lane.failing) this.options.log(`notifications to ${lane.name} delivered again (record ${notification.seq})`);
      lane.failing = false;
      return;
    }
    if (this.stop.signal.aborted) {
      lane.queue.unshift(notification);
      return;
    }
    lane.report.undelivered++;
    lane.report.lastError = outcome.error;
    if (!lane.failing) this.options.log(`notification ${notification.event} (record ${notification.seq}) to ${lane.name} not delivered: ${outcome.error ?? 'unknown'}; later ones are tried once each until it answers`);
    lane.failing = true;
  }
}
