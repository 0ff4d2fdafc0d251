/**
 * Connection strings carry passwords; nothing Ferry prints, journals or keeps as an error's
 * cause may contain one. `redact(text, secrets)` is the one function every data error and
 * result goes through. It works in two passes:
 *
 * 1. every known secret (the passwords of the connection strings Ferry was given) in each
 *    form it can take in a message — as typed, percent-encoded, inside an SQL literal
 *    (`''`), inside a libpq quoted value (`\'`), JSON-escaped — is masked wherever it is;
 * 2. whatever still looks like a password is masked by shape: the userinfo of a URI
 *    (`scheme://user:PASSWORD@…`, up to the last `@` of the URI), `password=VALUE` in
 *    keyword/value conninfo (quoted, SQL-quoted or bare) and in a URI's query string, and
 *    `"password": "…"` in JSON.
 *
 * Pass 2 alone cannot know where an unencoded password with spaces or quotes ends, so it
 * masks generously; pass 1 is what makes any password Ferry holds safe. Truncate text only
 * after redacting it: a cut password no longer matches either pass.
 */
import { FerryError } from '../util/errors.js';

export const MASK = '***';

/** Secrets shorter than this are masked only where their shape shows them (masking "ab" everywhere would garble every message). */
const MIN_KNOWN_SECRET = 4;

export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  const known = [...new Set(secrets)].filter((secret) => secret.length >= MIN_KNOWN_SECRET).sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join(MASK);
  return redactByShape(out);
}

function redactByShape(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s]*)/gi, (_all, scheme: string, rest: string) => scheme + maskUserinfo(rest));
  out = out.replace(/((?:^|[^a-z0-9_])(?:ssl|pg)?password\s*=\s*)(.*)/gis, (_all, key: string, rest: string) => key + maskValue(rest, key));
  out = out.replace(/("(?:ssl)?password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${MASK}"`);
  return out;
}

/** `user:password@host…` → `user:***@host…`; the password runs to the last `@` of the URI. */
function maskUserinfo(rest: string): string {
  const at = rest.lastIndexOf('@');
  if (at < 0) return rest;
  const colon = rest.indexOf(':');
  if (colon >= 0 && colon < at) return `${rest.slice(0, colon + 1)}${MASK}${rest.slice(at)}`;
  return rest;
}

/**
 * The value after `password=` (which may be followed by anything: the rest of the text is
 * passed in). Returns the mask and what follows the value, recursively redacting that.
 */
function maskValue(rest: string, key: string): string {
  let end: number;
  if (/[?&]$/.test(key.replace(/(?:ssl|pg)?password\s*=\s*$/i, ''))) {
    // URI query string: up to the next parameter.
    end = rest.search(/[&#\s]/);
  } else if (rest.startsWith("''") && (end = closing(rest, 2, "''")) >= 0) {
    // A libpq quoted value inside an SQL literal (quotes doubled, `\''` escapes one) — or an
    // empty value followed by more text, which this masks generously.
  } else if (rest.startsWith("'")) {
    end = closing(rest, 1, "'");
  } else {
    // Bare value: up to whitespace (a backslash escapes the next character).
    const match = /^(?:\\.|[^\s\\])*/s.exec(rest);
    end = match ? match[0].length : 0;
  }
  if (end < 0) end = rest.length;
  return MASK + redactByShape(rest.slice(end));
}

/** Index just past the closing quote of a quoted value starting at `from`; -1 when it never closes. */
function closing(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') {
      i += text.startsWith(quote, i + 1) ? quote.length : 1;
      continue;
    }
    if (text.startsWith(quote, i)) return i + quote.length;
  }
  return -1;
}

/** The password of a URI or keyword/value connection string, as the server sees it. */
export function passwordOf(connection: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(connection)) {
    const userinfo = uriUserinfo(connection);
    const query = /[?&]password=([^&#]*)/i.exec(connection)?.[1];
    const raw = userinfo?.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : query;
    return raw === undefined || raw === '' ? undefined : decode(raw);
  }
  const match = /(?:^|\s)password\s*=\s*('((?:[^'\\]|\\.)*)'|(?:\\.|[^\s\\])+)/is.exec(connection);
  if (!match) return undefined;
  return (match[2] ?? match[1]!).replace(/\\(.)/gs, '$1');
}

function uriUserinfo(uri: string): string | undefined {
  const rest = uri.slice(uri.indexOf('://') + 3);
  const at = rest.lastIndexOf('@');
  return at < 0 ? undefined : rest.slice(0, at);
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Every form the password of `connection` can take in a message, log line or SQL text. */
export function secretForms(connection: string): string[] {
  const password = passwordOf(connection);
  if (!password) return [];
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(connection) ? uriUserinfo(connection)?.split(':').slice(1).join(':') : undefined;
  return formsOf(password, raw);
}

/** A password as typed, percent-encoded, libpq-quoted, SQL-quoted and JSON-escaped. */
export function formsOf(password: string, raw?: string): string[] {
  const forms = new Set<string>();
  for (const form of [password, raw, encodeURIComponent(password), encodeURI(password)]) {
    if (!form) continue;
    const libpq = form.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    for (const variant of [form, libpq]) {
      forms.add(variant);
      forms.add(variant.replace(/'/g, "''"));
      forms.add(JSON.stringify(variant).slice(1, -1));
    }
  }
  return [...forms];
}

/** Holds the secrets of the connection strings of one move, and redacts text, values and errors with them. */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(connections: Array<string | undefined> = []) {
    for (const connection of connections) if (connection) this.addConnection(connection);
  }

  addConnection(connection: string): void {
    for (const form of secretForms(connection)) this.secrets.add(form);
  }

  /** Adds a bare secret (a password not given inside a connection string); returns this. */
  with(secret: string | undefined): this {
    if (secret) for (const form of formsOf(secret)) this.secrets.add(form);
    return this;
  }

  text(value: string): string {
    return redact(value, this.secrets);
  }

  /** Every string inside a plain result (reports printed by the CLI or journaled by a run). */
  value<T>(value: T): T {
    return redactValue(value, this.secrets);
  }

  /** A FerryError whose message, fix, location and cause carry no secret (the cause is rebuilt from redacted text). */
  error(error: unknown): FerryError {
    return redactError(error, this.secrets);
  }
}

export function redactValue<T>(value: T, secrets: Iterable<string> = []): T {
  const list = [...secrets];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v, list);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([key, inner]) => [key, walk(inner)]));
    }
    return v;
  };
  return walk(value) as T;
}

export function redactError(error: unknown, secrets: Iterable<string> = []): FerryError {
  const list = [...secrets];
  const clean = (text: string | undefined) => (text === undefined ? undefined : redact(text, list));
  const source = error instanceof FerryError ? error : new FerryError('data', error instanceof Error ? error.message : String(error), { cause: error });
  const location = Object.fromEntries(Object.entries(source.location).map(([key, v]) => [key, typeof v === 'string' ? redact(v, list) : v]));
  const redacted = new FerryError(source.code, clean(source.message)!, { location, fix: clean(source.fix), cause: redactCause(source.cause, list) });
  redacted.stack = clean(source.stack);
  return redacted;
}

/** The cause (printed with --debug) rebuilt from redacted text; `code` is kept for callers that branch on SQLSTATE. */
function redactCause(cause: unknown, secrets: string[]): unknown {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) return redact(String(cause), secrets);
  const copy = new Error(redact(cause.message, secrets));
  copy.name = cause.name;
  copy.stack = redact(cause.stack ?? '', secrets);
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  if (cause.cause !== undefined) (copy as Error & { cause?: unknown }).cause = redactCause(cause.cause, secrets);
  return copy;
}
