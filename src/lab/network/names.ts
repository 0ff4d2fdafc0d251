/**
 * Cluster DNS for the service proxy: which Service or pod a host name means to a caller in
 * a namespace, with the search list a pod's resolv.conf has (`<ns>.svc.cluster.local`,
 * `svc.cluster.local`, `cluster.local`, ndots 5), so `svc`, `svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.cluster.local` and `pod.svc.ns.svc.cluster.local` all work as on a real
 * cluster (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/).
 */
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';
import { isLoopback } from './addresses.js';
import { allReadyAddresses } from './endpoints.js';

type Obj = Record<string, any>;

export type NameTarget =
  /** A Service (by name or by its ClusterIP). */
  | { kind: 'service'; namespace: string; name: string }
  /**
   * A pod by its DNS name `hostname.subdomain.ns.svc.cluster.local` (StatefulSets, headless
   * Services). `via`: not a pod here but an Endpoints address with that hostname (a bridge to
   * another cluster's gateway), dialled instead.
   */
  | { kind: 'pod'; namespace: string; pod: string; service: string; via?: { host: string; port: number } }
  /** A loopback address that is no ClusterIP: dialled as it is. */
  | { kind: 'address'; host: string };

const DOMAIN = 'cluster.local';
const NDOTS = 5;

/** What `host` means to a caller in `namespace`; undefined when nothing in the cluster has that name. */
export function resolveHost(client: ControllerClient, host: string, namespace: string): NameTarget | undefined {
  const name = host.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) {
    const service = client.list('v1', 'Service').find((svc) => ((svc.spec as Obj | undefined)?.clusterIPs ?? [(svc.spec as Obj | undefined)?.clusterIP]).includes(name));
    if (service) return { kind: 'service', namespace: service.metadata.namespace ?? 'default', name: service.metadata.name };
    return isLoopback(name) ? { kind: 'address', host: name } : undefined;
  }
  if (name === 'localhost' || name === '::1') return { kind: 'address', host: '127.0.0.1' };
  const absolute = host.endsWith('.') || name.split('.').length > NDOTS;
  const candidates = absolute ? [name] : [`${name}.${namespace}.svc.${DOMAIN}`, `${name}.svc.${DOMAIN}`, `${name}.${DOMAIN}`, name];
  for (const fqdn of candidates) {
    const found = lookupFqdn(client, fqdn, 0);
    if (found) return found;
  }
  return undefined;
}

function lookupFqdn(client: ControllerClient, fqdn: string, depth: number): NameTarget | undefined {
  const suffix = `.svc.${DOMAIN}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  const labels = fqdn.slice(0, -suffix.length).split('.');
  if (labels.length === 2) {
    const [name, namespace] = labels as [string, string];
    const service = client.get('v1', 'Service', namespace, name);
    if (!service) return undefined;
    const externalName = (service.spec as Obj | undefined)?.type === 'ExternalName' ? (service.spec as Obj).externalName as string | undefined : undefined;
    // An ExternalName Service is a CNAME; in the lab only names of this cluster can be followed.
    if (externalName) return depth < 4 ? lookupFqdn(client, externalName.toLowerCase().replace(/\.$/, ''), depth + 1) : undefined;
    return { kind: 'service', namespace, name };
  }
  if (labels.length === 3) {
    const [pod, service, namespace] = labels as [string, string, string];
    const governing = client.get('v1', 'Service', namespace, service);
    if (!governing) return undefined;
    const endpoints = client.get('v1', 'Endpoints', namespace, service) as (KubeObject & { subsets?: Obj[] }) | undefined;
    // Cluster DNS publishes a pod's name from the Service's endpoints: only once it is ready
    // (unless publishNotReadyAddresses), so a starting pod is not called by name.
    const published = new Set(((endpoints?.subsets ?? []) as Obj[]).flatMap((subset) => [
      ...((subset.addresses ?? []) as Obj[]),
      ...((governing.spec as Obj | undefined)?.publishNotReadyAddresses ? (subset.notReadyAddresses ?? []) as Obj[] : []),
    ]).flatMap((address) => (address.targetRef?.kind === 'Pod' ? [address.targetRef.name as string] : [])));
    const found = client.list('v1', 'Pod', namespace).find((p) => podHostname(p) === pod && (p.spec as Obj | undefined)?.subdomain === service && published.has(p.metadata.name));
    if (found) return { kind: 'pod', namespace, pod: found.metadata.name, service };
    // DNS also answers the hostnames of a headless Service's endpoints (Endpoints or a bridge's slice: how a bridge names pods of another cluster).
    const address = allReadyAddresses(client, governing).find((entry) => entry.hostname === pod);
    if (address) return { kind: 'pod', namespace, pod, service, via: { host: address.host, port: address.port } };
    return undefined;
  }
  return undefined;
}

function podHostname(pod: KubeObject): string {
  return ((pod.spec as Obj | undefined)?.hostname as string | undefined) ?? pod.metadata.name;
}
