import type { ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import type { CapturedResponse } from './compare.js';

/**
 * One request forwarded on an undici pool through the low-level dispatch() handler API.
 *
 * We implement the callback-style handler (onConnect/onHeaders/onData/onComplete/onError)
 * rather than the newer onRequestStart/onResponse* one: undici 7's Client calls the former
 * natively, while the latter is wrapped and parses every response's headers into an object
 * (node_modules/undici/lib/handler/unwrap-handler.js). No Readable is created per response,
 * which is where the field notes measured the gain over Pool.request().
 */
export interface OutboundRequest {
  method: string;
  path: string;
  /** Flat [name, value, ...] list, hop-by-hop headers already removed. */
  headers: string[];
  body: Buffer | null;
  timeoutMs: number;
}

/** Error codes that mean the connection failed before the request could be written. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/**
 * Errors where the request may have been written but no response byte came back: a backend
 * process dying or closing a keep-alive socket. Safe to retry only for idempotent methods.
 */
const NO_RESPONSE_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

export function errorCode(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.name;
}

export function isConnectError(error: Error): boolean {
  return CONNECT_ERRORS.has(errorCode(error));
}

/** Whether a request that failed with `error` before any response byte may go to the other backend. */
export function isRetryable(error: Error, idempotent: boolean): boolean {
  const code = errorCode(error);
  if (CONNECT_ERRORS.has(code)) return true;
  return idempotent && NO_RESPONSE_ERRORS.has(code);
}

function dispatchOptions(request: OutboundRequest): Dispatcher.DispatchOptions {
  return {
    method: request.method as Dispatcher.HttpMethod,
    path: request.path,
    headers: request.headers,
    body: request.body,
    headersTimeout: request.timeoutMs,
    bodyTimeout: request.timeoutMs,
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer', 'proxy-authenticate']);

export interface PrimaryCallbacks {
  /** Called once with the outcome: a response ended, or an error (before or after headers). */
  done(outcome: { status: number; error?: Error; responseStarted: boolean }): void;
}

/** Streams a backend's response to the client, with back-pressure, optionally keeping a copy for the mirror comparison. */
export class PrimaryHandler implements Dispatcher.DispatchHandler {
  status = 0;
  responseStarted = false;
  private abortUpstream: ((error?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private finished = false;
  private capture: Buffer[] | undefined;
  private capturedBytes = 0;
  private headersForCompare: Record<string, string | undefined> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly extraHeaders: string[] | undefined,
    private readonly callbacks: PrimaryCallbacks,
    private readonly captureLimit: number,
  ) {
    if (captureLimit > 0) this.capture = [];
  }

  static dispatch(pool: Pool, request: OutboundRequest, handler: PrimaryHandler): void {
    pool.dispatch(dispatchOptions(request), handler);
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
  }

  /** Called by the server when the client went away before the response ended. */
  abort(): void {
    if (!this.finished) this.abortUpstream?.(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx interim responses are not forwarded
    this.status = statusCode;
    this.responseStarted = true;
    this.resume = resume;
    const headers: string[] = [];
    const keep = this.capture !== undefined;
    if (keep) this.headersForCompare = {};
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) continue;
      const value = rawHeaders[i + 1]!.toString('latin1');
      headers.push(name, value);
      if (keep) this.headersForCompare![lower] = value;
    }
    if (this.extraHeaders) headers.push(...this.extraHeaders);
    this.res.writeHead(statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.capture !== undefined) {
      if (this.capturedBytes < this.captureLimit) this.capture.push(chunk);
      this.capturedBytes += chunk.length;
    }
    const more = this.res.write(chunk);
    if (!more) this.res.once('drain', () => this.resume?.());
    return more;
  }

  onComplete(): void {
    this.finished = true;
    this.res.end();
    this.callbacks.done({ status: this.status, responseStarted: true });
  }

  onError(error: Error): void {
    this.finished = true;
    this.callbacks.done({ status: this.status, error, responseStarted: this.responseStarted });
  }

  capturedResponse(): CapturedResponse | undefined {
    if (this.capture === undefined || this.headersForCompare === undefined) return undefined;
    const body = Buffer.concat(this.capture);
    return { status: this.status, headers: this.headersForCompare, body: body.subarray(0, this.captureLimit), truncated: this.capturedBytes > this.captureLimit, length: this.capturedBytes };
  }
}

/** Collects a shadow backend's response for comparison; nothing reaches the client. */
export class ShadowHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: Record<string, string | undefined> = {};
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly limit: number,
    private readonly done: (response: CapturedResponse | undefined, error?: Error) => void,
  ) {}

  static dispatch(pool: Pool, request: OutboundRequest, handler: ShadowHandler): void {
    pool.dispatch(dispatchOptions(request), handler);
  }

  onConnect(): void {}

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.status = statusCode;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      this.headers[rawHeaders[i]!.toString('latin1').toLowerCase()] = rawHeaders[i + 1]!.toString('latin1');
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.size < this.limit) this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  onComplete(): void {
    const body = Buffer.concat(this.chunks).subarray(0, this.limit);
    this.done({ status: this.status, headers: this.headers, body, truncated: this.size > this.limit, length: this.size });
  }

  onError(error: Error): void {
    this.done(undefined, error);
  }
}

/** Request headers for the backend: the client's, minus hop-by-hop ones, plus X-Forwarded-*. */
export function outboundHeaders(rawHeaders: string[], remoteAddress: string | undefined): string[] {
  const headers: string[] = [];
  let forwardedFor: string | undefined;
  let connectionTokens: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase();
    if (lower === 'connection') connectionTokens = rawHeaders[i + 1]!.toLowerCase().split(',').map((token) => token.trim());
  }
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    // content-length is recomputed by undici from the buffered body; expect is answered by Node.
    if (HOP_BY_HOP.has(lower) || lower === 'content-length' || lower === 'expect' || lower === 'proxy-authorization') continue;
    if (connectionTokens?.includes(lower)) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${rawHeaders[i + 1]!}` : rawHeaders[i + 1]!;
      continue;
    }
    headers.push(name, rawHeaders[i + 1]!);
  }
  const client = remoteAddress ?? 'unknown';
  headers.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
  return headers;
}
