/**
 * Compares a primary response with its mirrored twin: status, selected headers and body.
 * JSON bodies are compared structurally (key order and whitespace do not matter) and
 * configured paths such as timestamps or request ids are ignored.
 */
export interface CapturedResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  /** True when the body was larger than the capture limit; only its length is then known. */
  truncated: boolean;
  length: number;
}

export type MismatchReason = 'status' | 'header' | 'body';

export interface Difference {
  reason: MismatchReason;
  /** Header name or JSON path (`items.3.price`), empty for status and raw bodies. */
  path: string;
  primary: unknown;
  shadow: unknown;
}

export interface CompareOptions {
  headers: string[];
  ignorePaths: string[];
  /** Stop after this many differences; one is enough to count a mismatch. */
  maxDifferences?: number;
}

export function compareResponses(primary: CapturedResponse, shadow: CapturedResponse, options: CompareOptions): Difference[] {
  const differences: Difference[] = [];
  const limit = options.maxDifferences ?? 10;
  if (primary.status !== shadow.status) differences.push({ reason: 'status', path: '', primary: primary.status, shadow: shadow.status });
  for (const name of options.headers) {
    const key = name.toLowerCase();
    if (normaliseHeader(key, primary.headers[key]) !== normaliseHeader(key, shadow.headers[key])) {
      differences.push({ reason: 'header', path: key, primary: primary.headers[key], shadow: shadow.headers[key] });
    }
  }
  if (differences.length >= limit) return differences.slice(0, limit);
  compareBodies(primary, shadow, compileIgnore(options.ignorePaths), differences, limit);
  return differences.slice(0, limit);
}

function normaliseHeader(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // `application/json; charset=utf-8` and `application/json;charset=UTF-8` mean the same.
  if (name === 'content-type') return value.toLowerCase().replace(/\s+/g, '');
  return value;
}

function isJson(response: CapturedResponse): boolean {
  const type = response.headers['content-type'];
  return type !== undefined && /[/+]json\b/i.test(type);
}

function compareBodies(primary: CapturedResponse, shadow: CapturedResponse, ignore: IgnoreMatcher, out: Difference[], limit: number): void {
  if (primary.truncated || shadow.truncated) {
    if (primary.length !== shadow.length || !primary.body.equals(shadow.body)) {
      out.push({ reason: 'body', path: '', primary: `${primary.length} bytes`, shadow: `${shadow.length} bytes` });
    }
    return;
  }
  if (isJson(primary) && isJson(shadow)) {
    const left = parseJson(primary.body);
    const right = parseJson(shadow.body);
    if (left.ok && right.ok) {
      diffJson(left.value, right.value, [], ignore, out, limit);
      return;
    }
  }
  if (!primary.body.equals(shadow.body)) {
    out.push({ reason: 'body', path: '', primary: preview(primary.body), shadow: preview(shadow.body) });
  }
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function preview(body: Buffer): string {
  const text = body.subarray(0, 256).toString('utf8');
  return body.length > 256 ? `${text}… (${body.length} bytes)` : text;
}

type IgnoreMatcher = (path: readonly string[]) => boolean;

/** `a.b.*.c` patterns; `*` matches any single key or array index. */
export function compileIgnore(patterns: string[]): IgnoreMatcher {
  const compiled = patterns.map((pattern) => pattern.replace(/^\$\.?/, '').split('.').filter((part) => part.length > 0));
  if (compiled.length === 0) return () => false;
  return (path) =>
    compiled.some((parts) => parts.length === path.length && parts.every((part, i) => part === '*' || part === path[i]));
}

function diffJson(left: unknown, right: unknown, path: string[], ignore: IgnoreMatcher, out: Difference[], limit: number): void {
  if (out.length >= limit || ignore(path)) return;
  if (Array.isArray(left) && Array.isArray(right)) {
    const length = Math.max(left.length, right.length);
    for (let i = 0; i < length && out.length < limit; i++) {
      path.push(String(i));
      if (i >= left.length || i >= right.length) {
        if (!ignore(path)) out.push({ reason: 'body', path: path.join('.'), primary: left[i], shadow: right[i] });
      } else diffJson(left[i], right[i], path, ignore, out, limit);
      path.pop();
    }
    return;
  }
  if (isPlainObject(left) && isPlainObject(right)) {
    const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
    for (const key of [...keys].sort()) {
      if (out.length >= limit) return;
      path.push(key);
      if (!(key in left) || !(key in right)) {
        if (!ignore(path)) out.push({ reason: 'body', path: path.join('.'), primary: left[key], shadow: right[key] });
      } else diffJson(left[key], right[key], path, ignore, out, limit);
      path.pop();
    }
    return;
  }
  if (!Object.is(left, right)) out.push({ reason: 'body', path: path.join('.'), primary: left, shadow: right });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
