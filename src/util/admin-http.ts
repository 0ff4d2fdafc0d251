import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, isFerryError } from './errors.js';

/**
 * What Ferry's small loopback admin APIs (the router's, the database endpoint's) share:
 * bearer-token checks, bounded JSON bodies and FerryErrors as JSON with their HTTP status.
 */

/** Tokens are kept and compared as SHA-256 digests: the comparison time does not depend on the token's length. */
export function tokenDigest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Throws unless the request carries the bearer token; `readOnly` says how to start the API with one. */
export function authoriseBearer(req: IncomingMessage, expected: Buffer | undefined, readOnly: { message: string; fix: string }): void {
  if (!expected) throw new FerryError('forbidden', readOnly.message, { fix: readOnly.fix });
  const header = req.headers.authorization ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (!presented || !timingSafeEqual(tokenDigest(presented), expected)) {
    throw new FerryError('unauthorized', 'missing or wrong bearer token', { fix: 'send Authorization: Bearer <token>' });
  }
}

/** The request's JSON body (`{}` when empty), refused above `limitBytes`. */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new FerryError('usage', 'request body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text.length === 0 ? {} : JSON.parse(text));
      } catch {
        reject(new FerryError('usage', 'body is not valid JSON', { fix: 'send a JSON object' }));
      }
    });
    req.on('error', reject);
  });
}

const STATUS: Record<string, number> = { usage: 400, weight: 400, unauthorized: 401, forbidden: 403, 'not-found': 404 };

/** A FerryError as JSON with its status (401 with `WWW-Authenticate`); anything else a bare 500. */
export function sendAdminError(res: ServerResponse, error: unknown, sendJson: (res: ServerResponse, status: number, value: unknown) => void): void {
  if (res.headersSent) return void res.destroy();
  if (isFerryError(error)) {
    const status = STATUS[error.code] ?? 500;
    if (status === 401) res.setHeader('www-authenticate', 'Bearer');
    return sendJson(res, status, error.toJSON());
  }
  sendJson(res, 500, { code: 'internal', message: 'internal error' });
}
