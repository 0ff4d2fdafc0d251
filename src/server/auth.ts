/**
 * Who is calling the dashboard: every request carries a token (an HttpOnly, SameSite=Strict
 * cookie the browser got in exchange for the printed URL, or an `Authorization: Bearer`
 * header), and each token belongs to one identity. The printed token is the identity of
 * whoever started `ferry ui` (the target cluster tells it at approval time); `--tokens FILE`
 * adds a team's tokens, stored as SHA-256 hashes so the file never holds a usable secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { parse } from 'yaml';
import { FerryError } from '../util/errors.js';

export type TokenIdentity =
  /** The token printed by `ferry ui`: its holder approves as the server's own credentials (SelfSubjectReview). */
  | { kind: 'starter' }
  /** A team member's token from `--tokens FILE`: the file's name for it is who approves. */
  | { kind: 'named'; name: string };

interface Entry {
  hash: Buffer;
  identity: TokenIdentity;
}

export class TokenBook {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** A fresh random token for the starter, plus the team's hashed tokens when a file is given. */
  static create(tokensFile?: string): { book: TokenBook; token: string } {
    const token = randomBytes(32).toString('base64url');
    const entries: Entry[] = [{ hash: sha256(token), identity: { kind: 'starter' } }, ...(tokensFile ? loadTokensFile(tokensFile) : [])];
    return { book: new TokenBook(entries), token };
  }

  /**
   * The identity a presented token belongs to. Every entry is compared, each in constant
   * time over equal-length hashes, so the answer's timing says nothing about which token
   * came close.
   */
  identify(presented: string | undefined): TokenIdentity | undefined {
    if (!presented) return undefined;
    const hash = sha256(presented);
    let found: TokenIdentity | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(hash, entry.hash) && !found) found = entry.identity;
    }
    return found;
  }
}

/** The cookie is per port: browsers share cookies across ports of one host, and two dashboards must not clobber each other's. */
export function cookieName(port: number): string {
  return `ferry-ui-${port}`;
}

export function presentedToken(request: IncomingMessage, port: number): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  const name = cookieName(port);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * `--tokens FILE`: YAML or JSON mapping each person's name (their Kubernetes user name, as
 * the plan's `approvers` list it) to `sha256:<hex>` of their token, e.g.
 * `alice: sha256:9f86d0…` (`printf %s "$TOKEN" | sha256sum`).
 */
export function loadTokensFile(file: string): Entry[] {
  let parsed: unknown;
  try {
    parsed = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FerryError('usage', `cannot read the tokens file: ${(error as Error).message.split('\n')[0]}`, { location: { file }, fix: 'a YAML map of name: sha256:<hex of the token>' });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FerryError('usage', 'the tokens file is not a map of names to token hashes', { location: { file }, fix: 'alice: sha256:<hex>  (printf %s "$TOKEN" | sha256sum)' });
  }
  return Object.entries(parsed as Record<string, unknown>).map(([name, value]) => {
    const match = typeof value === 'string' ? /^sha256:([0-9a-f]{64})$/i.exec(value.trim()) : null;
    if (!match || !name.trim()) {
      throw new FerryError('usage', `the tokens file's entry "${name}" is not sha256:<64 hex digits>`, { location: { file, field: name }, fix: 'store the hash of the token, never the token: printf %s "$TOKEN" | sha256sum' });
    }
    return { hash: Buffer.from(match[1]!, 'hex'), identity: { kind: 'named', name: name.trim() } };
  });
}
