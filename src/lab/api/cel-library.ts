/**
 * The CEL environment the lab evaluates CRD `x-kubernetes-validations` rules in:
 * @marcbachmann/cel-js (standard macros, has(), size(), the strings extension, int()/string(),
 * duration/timestamp) plus the parts of Kubernetes' own CEL libraries that upstream CRDs use
 * (Gateway API and Istio: url(), isURL()). Each Kubernetes function is a few lines over a
 * JavaScript built-in (WHATWG URL, comparisons); a name Kubernetes has and this environment
 * lacks (quantity(), ip(), cidr(), format(), semver…) fails to compile, so the CRD is refused
 * at creation with a message naming it, as a real server refuses a rule it cannot compile.
 */
import { Environment } from '@marcbachmann/cel-js';

/** Kubernetes library functions that the lab does not provide; named in compile errors. */
export const UNSUPPORTED_KUBERNETES_FUNCTIONS = [
  'quantity', 'isQuantity', 'ip', 'isIP', 'cidr', 'isCIDR', 'format', 'semver', 'isSemver', 'authorizer',
  'replace', 'reverse', 'charAt', 'optional', 'sets', 'containsAll', 'intersects', 'equivalent',
] as const;

/** What `url(string)` returns: the parts Kubernetes' URL library exposes. */
export class KubernetesUrl {
  constructor(readonly url: URL) {}
}

/** Kubernetes accepts absolute URIs and absolute paths (`/a/b`); so does the lab. */
function parseUrl(text: string): KubernetesUrl | undefined {
  if (text.startsWith('/')) {
    try {
      return new KubernetesUrl(new URL(text, 'http://path.invalid'));
    } catch {
      return undefined;
    }
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) return undefined;
  try {
    return new KubernetesUrl(new URL(text));
  } catch {
    return undefined;
  }
}

const isPathOnly = (u: KubernetesUrl) => u.url.host === 'path.invalid';

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
}

function buildEnvironment(): Environment {
  return new Environment({ homogeneousAggregateLiterals: false })
    .registerVariable('self', 'dyn')
    .registerVariable('oldSelf', 'dyn')
    .registerType('URL', KubernetesUrl)
    .registerFunction('isURL(string): bool', (text: string) => parseUrl(text) !== undefined)
    .registerFunction('url(string): URL', (text: string) => {
      const parsed = parseUrl(text);
      if (!parsed) throw new Error(`URL parse error during conversion from string: ${text}`);
      return parsed;
    })
    .registerFunction('URL.getScheme(): string', (u: KubernetesUrl) => (isPathOnly(u) ? '' : u.url.protocol.replace(/:$/, '')))
    .registerFunction('URL.getHost(): string', (u: KubernetesUrl) => (isPathOnly(u) ? '' : u.url.host))
    .registerFunction('URL.getHostname(): string', (u: KubernetesUrl) => (isPathOnly(u) ? '' : u.url.hostname.replace(/^\[|\]$/g, '')))
    .registerFunction('URL.getPort(): string', (u: KubernetesUrl) => (isPathOnly(u) ? '' : u.url.port))
    .registerFunction('URL.getEscapedPath(): string', (u: KubernetesUrl) => u.url.pathname)
    .registerFunction('URL.getQuery(): map', (u: KubernetesUrl) => {
      const query = new Map<string, string[]>();
      for (const [key, value] of u.url.searchParams) query.set(key, [...(query.get(key) ?? []), value]);
      return query;
    })
    .registerFunction('list.isSorted(): bool', (list: unknown[]) => list.every((item, i) => i === 0 || compare(list[i - 1], item) <= 0))
    .registerFunction('list.indexOf(dyn): int', (list: unknown[], item: unknown) => BigInt(list.findIndex((x) => compare(x, item) === 0 && typeof x === typeof item)))
    .registerFunction('list.lastIndexOf(dyn): int', (list: unknown[], item: unknown) => {
      for (let i = list.length - 1; i >= 0; i--) if (compare(list[i], item) === 0 && typeof list[i] === typeof item) return BigInt(i);
      return -1n;
    })
    .registerFunction('list.min(): dyn', (list: unknown[]) => {
      if (list.length === 0) throw new Error('min called on empty list');
      return list.reduce((a, b) => (compare(b, a) < 0 ? b : a));
    })
    .registerFunction('list.max(): dyn', (list: unknown[]) => {
      if (list.length === 0) throw new Error('max called on empty list');
      return list.reduce((a, b) => (compare(b, a) > 0 ? b : a));
    })
    .registerFunction('string.re2Matches(string): bool', (text: string, pattern: string) => re2(pattern).test(text))
    .registerFunction('string.find(string): string', (text: string, pattern: string) => re2(pattern).exec(text)?.[0] ?? '')
    .registerFunction('string.findAll(string): list<string>', (text: string, pattern: string) => [...text.matchAll(new RegExp(re2(pattern).source, `${re2(pattern).flags}g`))].map((m) => m[0]));
}

const regexes = new Map<string, RegExp>();

/**
 * An RE2 pattern as a JavaScript RegExp: leading inline flags (`(?i)`, `(?s)`, `(?m)`) become
 * RegExp flags, `(?P<name>` becomes `(?<name>`, `\z` becomes `$`. Other RE2-only syntax fails with
 * the RegExp error, reported as the rule's evaluation error.
 */
export function re2(pattern: string): RegExp {
  let compiled = regexes.get(pattern);
  if (!compiled) {
    let body = pattern;
    let flags = '';
    const anchored = body.startsWith('^(?') ? '^' : '';
    const lead = /^\(\?([ims]+)\)/.exec(body.slice(anchored.length));
    if (lead) {
      flags += lead[1]!;
      body = anchored + body.slice(anchored.length + lead[0].length);
    }
    body = body.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$');
    compiled = new RegExp(body, flags);
    if (regexes.size > 1000) regexes.clear();
    regexes.set(pattern, compiled);
  }
  return compiled;
}

let shared: Environment | undefined;

/** One environment for the process: building it registers ~20 overloads, parsing a rule reuses them. */
export function celEnvironment(): Environment {
  shared ??= buildEnvironment();
  return shared;
}
