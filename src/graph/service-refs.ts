/**
 * Finds the hosts an environment value names: bare `svc`, `svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.cluster.local`, each with or without `:port` and with or without a URL scheme,
 * and lists of them separated by commas or spaces (e.g. Kafka bootstrap servers).
 */
export interface HostReference {
  host: string;
  port?: number;
  /** True when the value had a scheme or a port, so the word is clearly meant as an address. */
  explicit: boolean;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function hostReferences(value: string): HostReference[] {
  const references: HostReference[] = [];
  for (const token of value.split(/[\s,;]+/)) {
    const reference = parseToken(token);
    if (reference) references.push(reference);
  }
  return references;
}

function parseToken(raw: string): HostReference | undefined {
  let token = raw.trim();
  if (token === '') return undefined;
  let explicit = false;
  if (SCHEME.test(token)) {
    explicit = true;
    try {
      const url = new URL(token);
      token = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    } catch {
      return undefined;
    }
  }
  token = token.replace(/\/.*$/, '');
  // user:password@host — keep only the host part, never the credentials.
  token = token.slice(token.lastIndexOf('@') + 1);
  let port: number | undefined;
  const colon = token.lastIndexOf(':');
  if (colon !== -1) {
    const portText = token.slice(colon + 1);
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    token = token.slice(0, colon);
    explicit = true;
  }
  const host = token.toLowerCase().replace(/\.$/, '');
  if (host === '' || /^\d+(\.\d+)*$/.test(host)) return undefined; // numbers and IPv4 literals
  if (!host.split('.').every((label) => DNS_LABEL.test(label))) return undefined;
  return port === undefined ? { host, explicit } : { host, port, explicit };
}

/**
 * The Service (namespace, name) a host resolves to from a pod in `fromNamespace`, following
 * Kubernetes DNS: `svc` → same namespace; `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`.
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
