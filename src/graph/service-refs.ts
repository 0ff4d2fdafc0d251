/**
 * Finds the addresses a configuration value names: bare `svc`, `svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.cluster.local` and pod names, each with or without `:port`; URLs of every
 * common shape (`postgresql://user:pw@host/db`, `jdbc:postgresql://host:5432/db`,
 * `jdbc:oracle:thin:@//host:1521/x`, `redis://`, `rediss://`, `amqp://`, `mongodb://h1,h2/`,
 * `mongodb+srv://`, `PLAINTEXT://broker:9092`); `host:port` and broker lists separated by
 * commas, semicolons or spaces; `host=db` / `--db-host=db` keyed values. Credentials are
 * dropped while parsing: no userinfo, query or path ever reaches a result.
 */
export interface HostReference {
  host: string;
  port?: number;
  /** True when the value had a scheme, a port or a host-like key, so the word is clearly meant as an address. */
  explicit: boolean;
}

export interface Address extends HostReference {
  /** What was matched, safe to print: `scheme://host:port[,host2]` or `host[:port]`; never userinfo, path or query. */
  text: string;
  /** The value of a host-like `key=value` or `--flag=value` pair (`host=db`, `--redis-host=redis`). */
  keyed?: boolean;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** `scheme://`, with JDBC's `jdbc:sub:` prefixes (`jdbc:postgresql://`, `jdbc:mysql:loadbalance://`). */
const URL_START = /^((?:jdbc:)?[a-z][a-z0-9+.-]*(?::[a-z][a-z0-9+.-]*)*):\/\//i;
/** Oracle's thin driver: `jdbc:oracle:thin:@//host:1521/svc` or `jdbc:oracle:thin:@host:1521:SID`. */
const ORACLE_THIN = /^(jdbc:oracle:[a-z]+):@(?:\/\/)?/i;
/** A list item that starts another URL: `http://a:80,http://b:80`. */
const NEXT_URL = /[,;](?=(?:jdbc:)?[a-z][a-z0-9+.-]*(?::[a-z][a-z0-9+.-]*)*:\/\/)/i;
/** Keys whose value is an address: libpq `host=`, ADO.NET `Server=`, `bootstrap.servers=`, `--redis-host=`. */
const HOST_KEY = /(^|[-_.])(host|hostname|hosts|server|servers|addr|address|endpoint|endpoints|url|uri|urls|uris|dsn|broker|brokers|bootstrap|upstream|backend|target|peer|peers|connection|connectionstring|conn|connstr)s?$/i;
/** Keys whose value is a credential: `password=`, `DB_PASS`, `AUTH_TOKEN`, `API_KEY`. */
const CREDENTIAL_KEY = /pass|pwd|secret|token|credential|private|(^|[-_.])(api|access|auth)?[-_]?key($|[-_.])/i;
const TRIM = /^["'`([{<]+|["'`)\]}>.]+$/g;

/** A key (env var, `key=`, flag) whose value is an address: `REDIS_HOST`, `bootstrap.servers`, `--db-url`. */
export function isHostKey(key: string): boolean {
  return HOST_KEY.test(key);
}

/** A key whose value is a credential and is never read (`DB_PASSWORD`, `password=`), unless it names an address (`SECRET_STORE_URL`). */
export function isCredentialKey(key: string): boolean {
  return CREDENTIAL_KEY.test(key) && !HOST_KEY.test(key);
}

/** The text without the word after a credential flag (`--password hunter2`, `--token x`): never parsed, never shown. */
export function withoutCredentialArguments(text: string): string {
  if (!/(^|\s)--?[a-z]/i.test(text)) return text;
  const words = text.split(/\s+/);
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    kept.push(word);
    if (/^--?[a-z][a-z0-9_.-]*$/i.test(word) && isCredentialKey(word.replace(/^-+/, ''))) i++;
  }
  return kept.join(' ');
}

/** Hosts a value names (compatible view of `addressesIn`). */
export function hostReferences(value: string): HostReference[] {
  return addressesIn(value).map(({ host, port, explicit }) => (port === undefined ? { host, explicit } : { host, port, explicit }));
}

export function addressesIn(value: string): Address[] {
  const found: Address[] = [];
  for (const word of value.split(/\s+/)) {
    const trimmed = beforeCredential(word).replace(TRIM, '');
    if (trimmed === '') continue;
    for (const piece of trimmed.split(NEXT_URL)) parsePiece(piece, found);
  }
  return found;
}

/** A word up to its first `password=`-like pair: a credential may hold ",", ";" or "://", so nothing after it is read. */
function beforeCredential(word: string): string {
  for (const match of word.matchAll(/(^|[,;])(-*[a-z0-9_.-]+)=/gi)) {
    if (isCredentialKey(match[2]!.replace(/^-+/, ''))) return word.slice(0, match.index);
  }
  return word;
}

function parsePiece(piece: string, found: Address[]): void {
  const oracle = ORACLE_THIN.exec(piece);
  if (oracle) {
    const address = parseHostPort(piece.slice(oracle[0].length).replace(/[/?#;].*$/, ''), true);
    if (address) found.push({ ...address, text: `${oracle[1]!.toLowerCase()}:@${address.text}` });
    return;
  }
  const url = URL_START.exec(piece);
  if (url) {
    const scheme = url[1]!.toLowerCase();
    const hosts: Address[] = [];
    for (const item of authorityOf(piece.slice(url[0].length)).split(',')) {
      const address = parseHostPort(item, true);
      if (address) hosts.push(address);
    }
    const text = `${scheme}://${hosts.map((host) => host.text).join(',')}`;
    for (const host of hosts) found.push({ ...host, text });
    return;
  }
  for (const item of piece.split(/[,;]/)) {
    const equals = item.indexOf('=');
    // A credential may hold "," or ";" itself (`password=ab,cd`): nothing after it in this word is read.
    if (equals !== -1 && isCredentialKey(item.slice(0, equals).replace(/^-+/, ''))) return;
    if (equals === -1) {
      const address = parseHostPort(item.replace(/[/?#].*$/, ''), false);
      if (address) found.push(address);
      continue;
    }
    // `key=value`: only the value can be an address, and only it is looked at.
    const key = item.slice(0, equals).replace(/^-+/, '');
    const rest = item.slice(equals + 1);
    const inner: Address[] = [];
    parsePiece(rest, inner);
    const hostKey = isHostKey(key);
    // Under another key (`user=app`, `ssl=False`) only a URL or host:port is an address.
    for (const address of inner) {
      if (hostKey) found.push({ ...address, explicit: true, keyed: true });
      else if (address.explicit) found.push(address);
    }
  }
}

/**
 * The host list of a URL after `scheme://`: userinfo, path, query and fragment dropped.
 * Userinfo ends at the last "@" with no "?" or "#" before it, and with no "/" before it
 * unless it starts as `user:` (a password with a raw "/" or "@": `app:p@ss/w@db/x`), so
 * no piece of a password is ever taken for the host.
 */
function authorityOf(rest: string): string {
  let userinfoEnd = -1;
  for (let at = rest.indexOf('@'); at !== -1; at = rest.indexOf('@', at + 1)) {
    const before = rest.slice(0, at);
    if (/[?#]/.test(before)) break;
    if (before.includes('/') && !/^[^/:@]*:(?!\d+(?:[/?#;]|$))/.test(before)) break;
    userinfoEnd = at;
  }
  const host = rest.slice(userinfoEnd + 1);
  const end = host.search(/[/?#;]/);
  return end === -1 ? host : host.slice(0, end);
}

function parseHostPort(raw: string, inUrl: boolean): Address | undefined {
  let token = raw.trim();
  if (token === '' || token.startsWith('[')) return undefined; // IPv6 literals are no Service
  // user:password@host — keep only the host part, never the credentials.
  token = token.slice(token.lastIndexOf('@') + 1);
  let explicit = inUrl;
  let port: number | undefined;
  const colon = token.indexOf(':');
  if (colon !== -1) {
    const portText = token.slice(colon + 1).split(':')[0]!;
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return undefined;
    port = Number(portText);
    token = token.slice(0, colon);
    explicit = true;
  }
  const host = token.toLowerCase().replace(/\.$/, '');
  if (host === '' || /^\d+(\.\d+)*$/.test(host)) return undefined; // numbers and IPv4 literals
  if (!host.split('.').every((label) => DNS_LABEL.test(label))) return undefined;
  const text = port === undefined ? host : `${host}:${port}`;
  return port === undefined ? { host, explicit, text } : { host, port, explicit, text };
}

/**
 * The Service (namespace, name) a host resolves to from a pod in `fromNamespace`, following
 * Kubernetes DNS: `svc` → same namespace; `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`.
 * (Pod names of headless Services are resolved by `dns.ts`, which needs the objects.)
 */
export function serviceForHost(host: string, fromNamespace: string, clusterDomain = 'cluster.local'): { namespace: string; name: string } | undefined {
  const labels = host.split('.');
  if (labels.length === 1) return { namespace: fromNamespace, name: labels[0]! };
  if (labels.length === 2) return { namespace: labels[1]!, name: labels[0]! };
  if (labels[2] !== 'svc') return undefined;
  const rest = labels.slice(3).join('.');
  if (rest !== '' && rest !== clusterDomain) return undefined;
  return { namespace: labels[1]!, name: labels[0]! };
}
