import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** The raw body, as a receiver must verify it (before any JSON parsing). */
  body: string;
  /** Epoch ms when the whole body had arrived. */
  arrivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  /** Every request, in arrival order (retries included). */
  received: ReceivedRequest[];
}

/** How the receiver answers its `index`-th request (0-based); not answering is a receiver that hangs. */
export type WebhookAnswer = (request: ReceivedRequest, index: number, response: ServerResponse) => void;

const servers: Server[] = [];

/**
 * A webhook receiver on loopback (node:http) that records each request and answers as told.
 * The path looks like a Slack incoming-webhook URL's, whose last part is the secret: tests check
 * it never reaches a log, the journal or the output.
 */
export async function startWebhookReceiver(answer: WebhookAnswer, { path = '/hooks/T000/B000/secret-part' }: { path?: string } = {}): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
      const got = { headers: request.headers, body, arrivedAt: Date.now() };
      received.push(got);
      answer(got, received.length - 1, response);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, received };
}

/** Closes every receiver started in this process, hanging connections included. */
export async function stopWebhookReceivers(): Promise<void> {
  const closing = servers.splice(0);
  for (const server of closing) server.closeAllConnections();
  await Promise.all(closing.map((server) => new Promise((resolve) => server.close(resolve))));
}

/**
 * What a receiver does (docs/notifications.md, "Verifying a signature"): recompute the HMAC-SHA256
 * of "<X-Ferry-Timestamp>.<raw body>" with the shared secret, compare with X-Ferry-Signature in
 * constant time, and refuse timestamps more than `toleranceSeconds` from the clock.
 */
export function verifySignature(secret: string, request: Pick<ReceivedRequest, 'headers' | 'body'>, toleranceSeconds = 300): boolean {
  const timestamp = String(request.headers['x-ferry-timestamp']);
  const given = String(request.headers['x-ferry-signature'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex')}`;
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= toleranceSeconds;
  return fresh && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
