/**
 * Runs controllers the way kube-controller-manager does, in miniature: store events are
 * mapped to keys, keys are deduplicated in a queue per controller, and each key is
 * reconciled against the current state (level-triggered), retried with back-off on error.
 */
import type { ObjectStore, StoreEvent } from '../api/store.js';
import { log } from '../../util/log.js';

export interface Controller {
  name: string;
  /** Keys to reconcile because of this event (often the object itself or its owner). */
  keysFor(event: StoreEvent): string[];
  /** May ask to be called again for this key after a while (a deadline to check), as controllers requeue with AddAfter. */
  reconcile(key: string): void | { requeueAfterMs: number } | Promise<void | { requeueAfterMs: number }>;
  /** Keys to reconcile at start-up (objects that existed before the controller). */
  initialKeys?(): string[];
}

export class ControllerManager {
  private readonly queues = new Map<Controller, Set<string>>();
  private readonly retries = new Map<string, number>();
  private scheduled = false;
  private running = 0;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly delayed = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly store: ObjectStore, private readonly controllers: Controller[]) {
    for (const controller of controllers) this.queues.set(controller, new Set());
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => {
      for (const controller of this.controllers) {
        for (const key of controller.keysFor(event)) this.enqueue(controller, key);
      }
    });
    for (const controller of this.controllers) for (const key of controller.initialKeys?.() ?? []) this.enqueue(controller, key);
  }

  enqueue(controller: Controller, key: string, delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      // One pending timer per key, the earliest: a Deployment reconciled on every pod change
      // asks for the same deadline again and again.
      const id = `${controller.name}|${key}`;
      const due = Date.now() + delayMs;
      const pending = this.delayed.get(id);
      if (pending && pending.due <= due) return;
      if (pending) clearTimeout(pending.timer);
      const timer = setTimeout(() => {
        this.delayed.delete(id);
        this.enqueue(controller, key);
      }, delayMs);
      timer.unref();
      this.delayed.set(id, { timer, due });
      return;
    }
    this.queues.get(controller)!.add(key);
    this.schedule();
  }

  /** Resolves when every queue is empty and nothing is reconciling (tests and benchmarks). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
  }

  private isIdle(): boolean {
    return this.running === 0 && [...this.queues.values()].every((queue) => queue.size === 0);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    for (const [controller, queue] of this.queues) {
      const keys = [...queue];
      queue.clear();
      for (const key of keys) {
        if (this.stopped) return;
        this.running++;
        try {
          const result = await controller.reconcile(key);
          this.retries.delete(`${controller.name}|${key}`);
          if (result && result.requeueAfterMs > 0) this.enqueue(controller, key, result.requeueAfterMs);
        } catch (error) {
          const id = `${controller.name}|${key}`;
          const attempt = (this.retries.get(id) ?? 0) + 1;
          this.retries.set(id, attempt);
          if (attempt <= 12) this.enqueue(controller, key, Math.min(5000, 20 * 2 ** attempt));
          if (attempt > 3) log.warn({ controller: controller.name, key, err: (error as Error).message }, 'lab controller: reconcile failed');
        } finally {
          this.running--;
        }
      }
    }
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

export function objectKeyOf(event: StoreEvent): string {
  return `${event.object.metadata.namespace ?? ''}/${event.object.metadata.name}`;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  return { namespace: namespace || undefined, name: key.slice(slash + 1) };
}
