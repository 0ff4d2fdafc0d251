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

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer', 'proxy-authenticate']);
/**
 * Request headers dropped besides hop-by-hop ones: content-length is recomputed by undici
 * from the buffered body; expect is answered by Node; proxy-authorization is for a proxy.
 */
const REQUEST_DROPPED = new Set(['content-length', 'expect', 'proxy-authorization']);

/**
 * The lengths of the header names handled on each side. A name of another length cannot be
 * one of them, so it is passed on without being lower-cased (Host, Authorization… never are).
 * Derived from the lists, so a name added to them is handled.
 */
const lengthsOf = (...lists: Iterable<string>[]): Set<number> => new Set(lists.flatMap((list) => [...list].map((name) => name.length)));
const RESPONSE_HANDLED_LENGTHS = lengthsOf(HOP_BY_HOP, ['content-length']);
const REQUEST_HANDLED_LENGTHS = lengthsOf(HOP_BY_HOP, REQUEST_DROPPED, ['x-forwarded-for']);

/**
 * Streams a backend's response to the client, with back-pressure, optionally keeping a copy
 * for the mirror comparison. One object per attempt carries all of the request's state (the
 * router subclasses it), so the request path allocates no closures per request.
 */
export abstract class PrimaryHandler implements Dispatcher.DispatchHandler {
  status = 0;
  responseStarted = false;
  private abortUpstream: ((error?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private finished = false;
  private ended = false;
  /** Body bytes still expected when the response has a Content-Length, else -1. */
  private remaining = -1;
  private capture: Buffer[] | undefined;
  private capturedBytes = 0;
  private headersForCompare: Record<string, string | undefined> | undefined;

  constructor(
    protected readonly res: ServerResponse,
    private readonly extraHeaders: string[] | undefined,
    readonly captureLimit: number,
  ) {
    if (captureLimit > 0) this.capture = [];
  }

  /** Called once with the outcome: a response ended, or an error (before or after headers). */
  protected abstract done(error: Error | undefined): void;

  /** Sends the request on `pool`; abort() cuts it when the client goes away first. */
  dispatch(pool: Pool, options: Dispatcher.DispatchOptions): void {
    pool.dispatch(options, this);
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
  }

  /** Called by the server when the client went away before the response ended. */
  abort(): void {
    if (!this.finished && !this.ended) this.abortUpstream?.(new Error('client closed the connection'));
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
      const value = rawHeaders[i + 1]!.toString('latin1');
      if (keep || RESPONSE_HANDLED_LENGTHS.has(name.length)) {
        const lower = name.toLowerCase();
        if (HOP_BY_HOP.has(lower)) continue;
        if (lower === 'content-length') this.remaining = Number(value);
        if (keep) this.headersForCompare![lower] = value;
      }
      headers.push(name, value);
    }
    if (this.extraHeaders) {
      for (const item of this.extraHeaders) headers.push(item);
    }
    this.res.writeHead(statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.capture !== undefined) {
      if (this.capturedBytes < this.captureLimit) this.capture.push(chunk);
      this.capturedBytes += chunk.length;
    }
    // The chunk that completes a Content-Length body goes out with end(): one write for the
    // headers, the body and the end of the response instead of two calls through the stream.
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining === 0) {
        this.ended = true;
        this.res.end(chunk);
        return true;
      }
    }
    const more = this.res.write(chunk);
    if (!more) this.res.once('drain', () => this.resume?.());
    return more;
  }

  onComplete(): void {
    this.finished = true;
    if (!this.ended) this.res.end();
    this.done(undefined);
  }

  onError(error: Error): void {
    this.finished = true;
    this.done(error);
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

  static dispatch(pool: Pool, options: Dispatcher.DispatchOptions, handler: ShadowHandler): void {
    pool.dispatch(options, handler);
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
  let headers: string[] = [];
  let forwardedFor: string | undefined;
  let connectionTokens: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (!REQUEST_HANDLED_LENGTHS.has(name.length)) {
      headers.push(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      // Headers named in Connection are hop-by-hop too; "keep-alive" and "close" name none we forward.
      for (const token of value.toLowerCase().split(',')) {
        const trimmed = token.trim();
        if (trimmed !== 'keep-alive' && trimmed !== 'close' && trimmed !== '') (connectionTokens ??= []).push(trimmed);
      }
      continue;
    }
    if (HOP_BY_HOP.has(lower) || REQUEST_DROPPED.has(lower)) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
      continue;
    }
    headers.push(name, value);
  }
  if (connectionTokens !== undefined) {
    const named = connectionTokens;
    const kept: string[] = [];
    for (let i = 0; i < headers.length; i += 2) if (!named.includes(headers[i]!.toLowerCase())) kept.push(headers[i]!, headers[i + 1]!);
    headers = kept;
    if (named.includes('x-forwarded-for')) forwardedFor = undefined;
  }
  const client = remoteAddress ?? 'unknown';
  headers.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
  return headers;
}
