import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import type { PreflightRow } from '../apply/preflight/model.js';

/**
 * Addresses that belong to the source cluster: load-balancer addresses, node ports and
 * egress addresses. A slice with `keepAddresses: true` keeps the first two on the target
 * (strip-server-fields already keeps loadBalancerIP, loadBalancerClass and annotations; node
 * ports it keeps when the Service is marked pinned); preflight says which ones change.
 */

/** strip-server-fields keeps a Service's node ports when it carries this annotation. */
export const PIN_NODE_PORTS_ANNOTATION = 'ferry.dev/pin-node-ports';

/** Provider annotations that ask for a static address (they move with the Service as they are). */
export const STATIC_ADDRESS_ANNOTATIONS = [
  'service.beta.kubernetes.io/aws-load-balancer-eip-allocations',
  'service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses',
  'service.beta.kubernetes.io/azure-load-balancer-ipv4',
  'service.beta.kubernetes.io/azure-pip-name',
  'networking.gke.io/load-balancer-ip-addresses',
  'metallb.universe.tf/loadBalancerIPs',
  'metallb.io/loadBalancerIPs',
  'io.cilium/lb-ipam-ips',
] as const;

/** Annotation a user sets on a workload whose egress address third parties allow-list. */
export const EGRESS_ALLOW_LISTED_ANNOTATION = 'egress.ferry.dev/allow-listed';

/** For a slice with keepAddresses: its Services are marked so that strip-server-fields keeps their node ports. */
export function keepAddresses(object: KubeObject): KubeObject {
  if (object.kind !== 'Service' || object.apiVersion !== 'v1') return object;
  return { ...object, metadata: { ...object.metadata, annotations: { ...(object.metadata.annotations ?? {}), [PIN_NODE_PORTS_ANNOTATION]: 'true' } } };
}

interface ServiceSpec {
  type?: string;
  loadBalancerIP?: string;
  loadBalancerClass?: string;
  ports?: Array<{ name?: string; port?: number; nodePort?: number }>;
}

/** The static address fields a Service asks its load balancer for: `field=value`. */
export function staticAddresses(service: KubeObject): string[] {
  const spec = (service.spec ?? {}) as ServiceSpec;
  const out: string[] = [];
  if (spec.loadBalancerIP) out.push(`loadBalancerIP=${spec.loadBalancerIP}`);
  for (const annotation of STATIC_ADDRESS_ANNOTATIONS) {
    const value = service.metadata.annotations?.[annotation];
    if (value) out.push(`${annotation}=${value}`);
  }
  return out;
}

/**
 * WARN rows for static load-balancer addresses and node ports of the source that the target
 * will not have (compared with the objects as they will be applied), and for the ones kept:
 * a static address can be held by one load balancer at a time.
 */
export function addressRows(original: readonly KubeObject[], desired: readonly KubeObject[]): PreflightRow[] {
  const rows: PreflightRow[] = [];
  original.forEach((object, index) => {
    if (object.kind !== 'Service') return;
    const spec = (object.spec ?? {}) as ServiceSpec;
    if (spec.type !== 'LoadBalancer' && spec.type !== 'NodePort') return;
    const applied = desired[index] ?? object;
    const subject = describeObject(object);
    const before = staticAddresses(object);
    const after = new Set(staticAddresses(applied));
    const lost = before.filter((field) => !after.has(field));
    const kept = before.filter((field) => after.has(field));
    const lbClass = spec.loadBalancerClass;
    if (lbClass && (applied.spec as ServiceSpec | undefined)?.loadBalancerClass !== lbClass) lost.push(`loadBalancerClass=${lbClass}`);
    if (lost.length > 0) {
      rows.push({ severity: 'WARN', check: 'addresses', subject, message: `static address ${lost.join(', ')} of the source is not carried: the target's load balancer gets a new address`, fix: 'set keepAddresses: true on the slice (or remove the transform that drops these fields), and move the reservation to the target\'s account or network' });
    }
    if (kept.length > 0) {
      rows.push({ severity: 'WARN', check: 'addresses', subject, message: `the target asks for the same static address (${kept.join(', ')}); the source's load balancer holds it until its Service is deleted or changed`, fix: 'release it on the source at cutover (decommission.deleteSource, or change the source Service) and make sure the reservation is usable from the target\'s network or project' });
    }
    const ports = (spec.ports ?? []).filter((port) => port.nodePort);
    const appliedPorts = new Set(((applied.spec as ServiceSpec | undefined)?.ports ?? []).map((port) => port.nodePort).filter(Boolean));
    const changing = ports.filter((port) => !appliedPorts.has(port.nodePort));
    if (changing.length > 0) {
      rows.push({ severity: 'WARN', check: 'addresses', subject, message: `node port(s) ${changing.map((port) => port.nodePort).join(', ')} of the source will change on the target`, fix: 'set keepAddresses: true on the slice (or annotate the Service ferry.dev/pin-node-ports: "true") to keep them; the target must have them free' });
    } else if (ports.length > 0) {
      rows.push({ severity: 'OK', check: 'addresses', subject, message: `node port(s) ${ports.map((port) => port.nodePort).join(', ')} kept on the target` });
    }
  });
  return rows;
}

interface NetworkPolicySpec {
  policyTypes?: string[];
  podSelector?: { matchLabels?: Record<string, string> };
  egress?: Array<{ to?: Array<{ ipBlock?: { cidr?: string } }> }>;
}

type PodTemplate = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };

/**
 * WARN rows for slices whose workloads leave the cluster to fixed addresses (an egress
 * NetworkPolicy to ipBlock CIDRs selecting their pods) or are marked as allow-listed: third
 * parties often allow-list the source cluster's egress (NAT) addresses, and the target
 * egresses from others. `slices` are each slice's objects as the source has them.
 */
export function egressRows(slices: ReadonlyArray<{ name: string; objects: readonly KubeObject[] }>): PreflightRow[] {
  const rows: PreflightRow[] = [];
  const fix = 'give the target the same egress addresses (move the NAT gateway\'s addresses), or ask the third parties to allow-list the target\'s egress addresses before the ramp';
  const workloads = slices.flatMap((slice) => slice.objects.flatMap((object) => {
    const template = (object.spec as { template?: PodTemplate } | undefined)?.template;
    return template ? [{ slice: slice.name, object, template }] : [];
  }));
  for (const { name, objects } of slices) {
    for (const policy of objects.filter((object) => object.kind === 'NetworkPolicy')) {
      const spec = (policy.spec ?? {}) as NetworkPolicySpec;
      const cidrs = (spec.egress ?? []).flatMap((rule) => (rule.to ?? []).map((peer) => peer.ipBlock?.cidr)).filter((cidr): cidr is string => Boolean(cidr) && cidr !== '0.0.0.0/0' && cidr !== '::/0');
      if (cidrs.length === 0) continue;
      const selector = Object.entries(spec.podSelector?.matchLabels ?? {});
      const selected = workloads.filter(({ object, template }) => object.metadata.namespace === policy.metadata.namespace && selector.every(([key, value]) => template.metadata?.labels?.[key] === value));
      const named = [...new Set(selected.map((workload) => `slice ${workload.slice} (${describeObject(workload.object)})`))];
      rows.push({ severity: 'WARN', check: 'egress', subject: describeObject(policy), message: `${named.length > 0 ? named.join(', ') : `slice ${name}`}: pods call fixed addresses outside the cluster (${cidrs.join(', ')}); third parties there may allow-list the source cluster's egress addresses`, fix });
    }
  }
  for (const { slice, object, template } of workloads) {
    const marked = object.metadata.annotations?.[EGRESS_ALLOW_LISTED_ANNOTATION] ?? template.metadata?.annotations?.[EGRESS_ALLOW_LISTED_ANNOTATION];
    if (marked) rows.push({ severity: 'WARN', check: 'egress', subject: describeObject(object), message: `slice ${slice}: marked ${EGRESS_ALLOW_LISTED_ANNOTATION} (${marked}): third parties allow-list the source cluster's egress addresses`, fix });
  }
  return rows;
}
