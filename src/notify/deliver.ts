import { createHmac } from 'node:crypto';
import type { Notification } from './events.js';

/** A receiver with its references resolved: what a delivery needs. */
export interface ResolvedReceiver {
  name: string;
  type: 'webhook' | 'slack';
  url: string;
  /** HMAC key of a webhook (unsigned without). */
  secret?: string;
  events?: readonly string[];
  timeoutMs: number;
  retries: number;
  giveUpAfterMs: number;
}

export interface DeliveryOutcome {
  delivered: boolean;
  attempts: number;
  /** Status of the last answer, when there was one. */
  status?: number;
  /** Why it was not delivered: a status or an error code, never the URL. */
  error?: string;
}

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/**
 * The body of a webhook: the notification as JSON. The signature covers `<timestamp>.<body>`
 * so a captured request cannot be replayed later with a new timestamp (docs/notifications.md).
 */
export function webhookBody(notification: Notification): string {
  const { run, plan, event, slice, stage, at, seq, summary, data } = notification;
  return JSON.stringify({ run, plan, event, ...(slice ? { slice } : {}), ...(stage ? { stage } : {}), at, seq, summary, data });
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A Slack incoming-webhook message: `text` for notifications and clients without blocks, `blocks` for the channel. */
export function slackBody(notification: Notification): string {
  const { run, plan, seq, event, summary } = notification;
  return JSON.stringify({
    text: `Ferry ${run}: ${summary}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*Ferry · ${escapeSlack(event)}*\n${escapeSlack(summary)}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(`run ${run} · plan ${plan} · record ${seq}`) }] },
    ],
  });
}

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Posts one notification, retrying network errors, timeouts, 408, 425, 429 and 5xx with
 * exponential backoff (Retry-After honoured) until it is delivered, `retries` are spent, the
 * receiver's `giveUpAfterMs` has passed, or `stop` aborts. Any other answer is final.
 */
export async function deliver(receiver: ResolvedReceiver, notification: Notification, options: { stop: AbortSignal; retries?: number }): Promise<DeliveryOutcome> {
  const body = receiver.type === 'slack' ? slackBody(notification) : webhookBody(notification);
  const deadline = Date.now() + receiver.giveUpAfterMs;
  const retries = options.retries ?? receiver.retries;
  let outcome: DeliveryOutcome = { delivered: false, attempts: 0 };
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (options.stop.aborted) return { ...outcome, error: outcome.error ?? 'stopped' };
    const left = deadline - Date.now();
    if (left <= 0) break;
    const answer = await post(receiver, notification, body, Math.min(receiver.timeoutMs, left), options.stop);
    outcome = { delivered: answer.ok, attempts: attempt + 1, ...(answer.status !== undefined ? { status: answer.status } : {}), ...(answer.ok ? {} : { error: answer.error }) };
    if (answer.ok || !answer.retry || attempt === retries) return outcome;
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
    const wait = Math.max(backoff, answer.retryAfterMs ?? 0);
    if (Date.now() + wait >= deadline) break;
    await sleep(wait, options.stop);
  }
  return { ...outcome, error: `${outcome.error ?? 'not delivered'}; gave up after ${outcome.attempts} attempt(s)` };
}

interface Answer {
  ok: boolean;
  retry: boolean;
  status?: number;
  retryAfterMs?: number;
  error?: string;
}

async function post(receiver: ResolvedReceiver, notification: Notification, body: string, timeoutMs: number, stop: AbortSignal): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'ferry-notifications/1' };
  if (receiver.type === 'webhook') {
    const timestamp = Math.floor(Date.now() / 1000);
    headers['x-ferry-event'] = notification.event;
    headers['x-ferry-delivery'] = `${notification.run}.${notification.seq}`;
    headers['x-ferry-timestamp'] = String(timestamp);
    if (receiver.secret !== undefined) headers['x-ferry-signature'] = signWebhook(receiver.secret, timestamp, body);
  }
  try {
    const response = await fetch(receiver.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) });
    // The answer's body is not needed; reading it lets the connection be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { ok: true, retry: false, status: response.status };
    const retry = response.status === 408 || response.status === 425 || response.status === 429 || response.status >= 500;
    const retryAfterMs = retryAfter(response.headers.get('retry-after'));
    return { ok: false, retry, status: response.status, error: `HTTP ${response.status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  } catch (error) {
    return { ok: false, retry: true, error: errorCode(error, timeoutMs) };
  }
}

/** Retry-After in seconds or as an HTTP date; capped by the caller's deadline. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** What failed, without the URL (fetch's messages and causes can carry it). */
function errorCode(error: unknown, timeoutMs: number): string {
  const named = error as { name?: string; cause?: { code?: string; name?: string } };
  if (named.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (named.name === 'AbortError') return 'stopped';
  return named.cause?.code ?? named.cause?.name ?? named.name ?? 'network error';
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    }
  });
}
