import type { Clock } from '../analysis/clock.js';
import type { Journal } from '../journal/journal.js';
import type { RunEnvironment } from './services.js';

/** Thrown inside a slice when `ferry pause` or `ferry abort` was asked for; not a failure. */
export class StopRequested extends Error {
  constructor(readonly action: 'pause' | 'abort') {
    super(`run ${action === 'pause' ? 'paused' : 'aborted'}`);
  }
}

/** How often control requests are read: within one judge interval of the default 250 ms. */
const POLL_MS = 200;

/**
 * The run's control requests (pause, abort, approve), read by one poller for every slice
 * running in parallel: each request is journaled once, and every slice sees a stop at its
 * next checkpoint (between stages, and inside every wait: ramp looks, soak, approvals).
 */
export class RunControl {
  private stop: 'pause' | 'abort' | undefined;
  private lastPoll = -Infinity;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly journal: Journal,
    private readonly env: Pick<RunEnvironment, 'control' | 'clock'>,
    private readonly runId: string,
  ) {}

  get stopRequested(): 'pause' | 'abort' | undefined {
    return this.stop;
  }

  /** Reads pending requests (at most every POLL_MS) and journals them. */
  async poll(): Promise<void> {
    if (this.env.clock.now() - this.lastPoll < POLL_MS) return;
    this.polling ??= this.readRequests().finally(() => {
      this.polling = undefined;
    });
    await this.polling;
  }

  /** Throws StopRequested when the run must stop here. */
  async checkpoint(): Promise<void> {
    await this.poll();
    if (this.stop) throw new StopRequested(this.stop);
  }

  /** Sleeps in short slices, checking for a stop between them. */
  async sleep(ms: number): Promise<void> {
    const until = this.env.clock.now() + ms;
    for (;;) {
      await this.checkpoint();
      const left = until - this.env.clock.now();
      if (left <= 0) return;
      await this.env.clock.sleep(Math.min(left, POLL_MS));
    }
  }

  /** A clock whose sleeps are checkpoints: handed to the canary loop so a pause lands mid-ramp. */
  controlledClock(): Clock {
    return { now: () => this.env.clock.now(), sleep: (ms) => this.sleep(ms) };
  }

  private async readRequests(): Promise<void> {
    this.lastPoll = this.env.clock.now();
    const requests = (await this.env.control?.()) ?? [];
    for (const request of requests) {
      if (request.action === 'approve') this.journal.append('approved', { slice: request.slice }, request.by);
      if (request.action === 'pause' && !this.stop) {
        this.journal.append('run-paused', { run: this.runId }, request.by);
        this.stop = 'pause';
      }
      if (request.action === 'abort' && this.stop !== 'abort') {
        this.journal.append('run-aborted', { run: this.runId }, request.by);
        this.stop = 'abort';
      }
    }
  }
}
