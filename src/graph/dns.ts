/**
 * How a pod's resolver turns a name into a Service or a pod of a headless Service, as
 * Kubernetes DNS does (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/):
 * the pod's resolv.conf searches `<ns>.svc.<domain>`, `svc.<domain>`, `<domain>` with
 * `ndots:5`, and the cluster answers `<svc>.<ns>.svc.<domain>` for Services and
 * `<hostname>.<subdomain>.<ns>.svc.<domain>` for pods behind a headless Service. So
 * `db-0.db`, `db-0.db.orders`, `db-0.db.orders.svc` and the FQDN all name pod db-0.
 */
export type DnsTarget =
  | { kind: 'service'; namespace: string; name: string }
  | { kind: 'pod'; namespace: string; service: string; hostname: string };

const NDOTS = 5;

/** The names the resolver would ask for, in order, and what each would be in the cluster. */
export function dnsTargets(host: string, fromNamespace: string, clusterDomain = 'cluster.local'): DnsTarget[] {
  const absolute = host.endsWith('.');
  const name = host.replace(/\.$/, '').toLowerCase();
  const search = [`${fromNamespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
  const dots = name.split('.').length - 1;
  const candidates = absolute ? [name]
    : dots >= NDOTS ? [name, ...search.map((suffix) => `${name}.${suffix}`)]
    : [...search.map((suffix) => `${name}.${suffix}`), name];
  const zone = `.svc.${clusterDomain}`;
  const targets: DnsTarget[] = [];
  for (const candidate of candidates) {
    if (!candidate.endsWith(zone)) continue;
    const labels = candidate.slice(0, -zone.length).split('.');
    if (labels.length === 2) targets.push({ kind: 'service', namespace: labels[1]!, name: labels[0]! });
    else if (labels.length === 3) targets.push({ kind: 'pod', namespace: labels[2]!, service: labels[1]!, hostname: labels[0]! });
  }
  return targets;
}

/** The hostname CoreDNS gives an endpoint without one: its IP with dashes (`10-0-0-5`). */
export function isDashedAddress(hostname: string): boolean {
  return /^\d{1,3}(-\d{1,3}){3}$/.test(hostname);
}
