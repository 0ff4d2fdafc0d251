import type { KubeObject } from '../kube/object.js';
import { compareStrings } from '../util/stable.js';
import { assertObjectShapes } from '../inventory/shape.js';
import { DEPENDS_ON_ANNOTATION, idOf, nodeId, type DanglingReference, type DependencyGraph, type EdgeEvidence, type EdgeReason, type GraphEdge, type NodeId } from './model.js';
import { isWorkload, labelSelectorMatches, podReferences, podTemplate, selectorMatches } from './pod-spec.js';
import { addressesIn, isCredentialKey, isHostKey, withoutCredentialArguments, type Address } from './service-refs.js';
import { configuredValues, serviceLinkVariables, type ConfiguredValue, type EnvFromCache } from './container-env.js';
import { dnsTargets, isDashedAddress } from './dns.js';

/**
 * Builds the object-level dependency graph: edges "A depends on B" from selectors, pod
 * references, routes, autoscalers, budgets, addresses in containers' configuration (env
 * literal and from ConfigMaps/Secrets, command/args, with `$(VAR)` expansion; Services and
 * pods of headless Services by every DNS form), ExternalName chains and declared annotations.
 * Address edges carry their evidence. Pure: the same objects give the same graph, in the same order.
 */
export function buildDependencyGraph(objects: readonly KubeObject[]): DependencyGraph {
  // Callers may hand in objects that never went through an inventory (the controller, preflight's transformed objects).
  assertObjectShapes(objects);
  const index = new ObjectIndex(objects);
  /** Edges by from, then `to\u0000reason`. */
  const edges = new Map<NodeId, Map<string, GraphEdge>>();
  const dangling = new Map<string, DanglingReference>();
  const addEdge = (from: NodeId, to: NodeId, reason: EdgeReason, detail: string, runtime: boolean, evidence?: EdgeEvidence) => {
    if (from === to) return;
    let outgoing = edges.get(from);
    if (!outgoing) {
      outgoing = new Map();
      edges.set(from, outgoing);
    }
    const key = `${to}\u0000${reason}`;
    let edge = outgoing.get(key);
    if (!edge) {
      edge = { from, to, reason, detail, runtime, provenance: reason === 'declared' ? 'declared' : evidence?.sharedConfig ? 'static (shared config)' : 'static' };
      outgoing.set(key, edge);
      if (evidence) edge.evidence = [evidence];
      return;
    }
    if (evidence) {
      const list = edge.evidence ?? (edge.evidence = []);
      if (!list.some((known) => known === evidence || (known.object === evidence.object && known.field === evidence.field && known.text === evidence.text))) list.push(evidence);
      // Shared config only when no evidence is the workload's own: one own mention makes it a plain static edge.
      if (edge.provenance === 'static (shared config)' && !evidence.sharedConfig) edge.provenance = 'static';
    }
  };
  const envFromCache: EnvFromCache = new Map();
  const plans = new WeakMap<ConfiguredValue, AddressPlan | undefined>();
  /** Names already resolved, by `namespace\u0000host` (shared config repeats them across workloads). */
  const resolutions = new Map<string, KubeObject | null>();
  const addDangling = (reference: DanglingReference) => {
    dangling.set(`${reference.from}\u0000${reference.kind}\u0000${reference.target}`, reference);
  };

  for (const object of objects) {
    const from = idOf(object);
    const namespace = object.metadata.namespace ?? '';
    if (isWorkload(object)) linkWorkload(object, from, namespace);
    switch (object.kind) {
      case 'Service': linkService(object, from, namespace); break;
      case 'Ingress': linkIngress(object, from, namespace); break;
      case 'HTTPRoute': case 'GRPCRoute': case 'TCPRoute': case 'TLSRoute': case 'UDPRoute': linkGatewayRoute(object, from, namespace); break;
      case 'VirtualService': linkVirtualService(object, from, namespace); break;
      case 'DestinationRule': linkHost(from, namespace, (object.spec as any)?.host, 'route', 'spec.host'); break;
      case 'HorizontalPodAutoscaler': linkScaleTarget(object, from, namespace); break;
      case 'PodDisruptionBudget': linkBudget(object, from, namespace); break;
      case 'ServiceAccount': linkServiceAccount(object, from, namespace); break;
      case 'RoleBinding': linkRoleBinding(object, from, namespace); break;
    }
    linkDeclared(object, from, namespace);
  }

  function linkWorkload(object: KubeObject, from: NodeId, namespace: string) {
    const template = podTemplate(object);
    if (!template) return;
    for (const reference of podReferences(template.spec)) {
      const reason: EdgeReason = reference.via.startsWith('volume') ? 'volume'
        : reference.via === 'imagePullSecrets' ? 'imagePullSecret'
        : reference.via === 'serviceAccountName' ? 'serviceAccount'
        : reference.via.endsWith('envFrom') ? 'envFrom' : 'env';
      const target = index.get(reference.kind, namespace, reference.name);
      if (target) addEdge(from, idOf(target), reason, reference.via, false);
      else if (!(reference.kind === 'ServiceAccount' && reference.name === 'default')) {
        addDangling({ from, kind: 'missing-object', target: nodeId(reference.kind, namespace, reference.name), detail: reference.via });
      }
    }
    const values = configuredValues(object, template, (kind, ns, name) => index.data(kind, ns, name), index.serviceLinks(namespace), envFromCache);
    for (const value of values) linkAddresses(object, from, namespace, value);
    const governing = (object.spec as any)?.serviceName;
    if (object.kind === 'StatefulSet' && typeof governing === 'string') {
      const service = index.get('Service', namespace, governing);
      if (service) addEdge(from, idOf(service), 'governingService', 'spec.serviceName', false);
    }
  }

  /** The addresses one configured value names, as call edges (or dangling references) with evidence. */
  function linkAddresses(workload: KubeObject, from: NodeId, namespace: string, value: ConfiguredValue) {
    const plan = addressPlan(value, namespace);
    if (!plan) return;
    for (const found of plan.found) {
      if (found.target) {
        // A workload naming its own Service (or its own pods) is no dependency.
        if (!index.selects(found.target, workload)) addEdge(from, found.targetId!, plan.reason, plan.detail, true, found.evidence);
      } else if (found.dangling) {
        addDangling({ from, kind: found.dangling.kind, target: found.dangling.target, detail: plan.detail, evidence: found.evidence });
      }
    }
  }

  /**
   * What one configured value names, resolved once: a ConfigMap entry loaded by many
   * workloads (the same object for all of them, see EnvFromCache) is parsed and resolved once.
   */
  function addressPlan(value: ConfiguredValue, namespace: string): AddressPlan | undefined {
    if (plans.has(value)) return plans.get(value);
    let plan: AddressPlan | undefined;
    const text = value.channel === 'env' && isCredentialKey(value.name) ? '' : withoutCredentialArguments(value.text);
    const addresses = text === '' ? [] : index.addresses(text);
    if (addresses.length > 0) {
      const shared = index.loadedByMany(value.object);
      const flagHost = value.channel === 'command' && hostFlagValues(withoutCredentialArguments(value.commandLine ?? text));
      plan = {
        detail: value.channel === 'env' ? `container ${value.container} env ${value.name}` : `container ${value.container} ${value.name}`,
        reason: value.channel === 'env' ? 'env' : 'command',
        found: [],
      };
      for (const address of addresses) {
        if (!counts(value, address, flagHost)) continue;
        const evidence: EdgeEvidence = {
          object: value.object,
          field: value.field,
          text: address.text,
          ...(value.expandedFrom.length > 0 ? { expandedFrom: value.expandedFrom } : {}),
          ...(shared ? { sharedConfig: true } : {}),
        };
        // A bare name under a host key (`RABBITMQ_HOST: rabbitmq`) is as clearly an address as one with a port.
        const explicit = address.explicit || (value.channel === 'env' && isHostKey(value.name));
        const target = resolveHost(address.host, namespace);
        if (target) plan.found.push({ evidence, target, targetId: idOf(target) });
        else if (explicit && looksInCluster(address.host)) plan.found.push({ evidence, dangling: { kind: 'missing-service', target: address.host } });
        else if (explicit && address.host.includes('.')) plan.found.push({ evidence, dangling: { kind: 'external-host', target: address.port ? `${address.host}:${address.port}` : address.host } });
      }
    }
    plans.set(value, plan);
    return plan;
  }

  function linkService(object: KubeObject, from: NodeId, namespace: string) {
    const spec = (object.spec ?? {}) as Record<string, any>;
    if (spec.type === 'ExternalName' && typeof spec.externalName === 'string') {
      // A CNAME: to another Service of the cluster (a chain) or out of it.
      const [address] = addressesIn(spec.externalName);
      const target = address ? resolveHost(address.host, namespace) : undefined;
      const evidence: EdgeEvidence = { object: from, field: 'spec.externalName', text: address?.text ?? spec.externalName };
      if (target) addEdge(from, idOf(target), 'externalName', 'spec.externalName', true, evidence);
      else if (address && looksInCluster(address.host) && address.host.includes('.')) addDangling({ from, kind: 'missing-service', target: address.host, detail: 'spec.externalName', evidence });
      else addDangling({ from, kind: 'external-host', target: spec.externalName, detail: 'spec.externalName', evidence });
      return;
    }
    for (const workload of index.selectedWorkloads(object)) addEdge(from, idOf(workload), 'selector', 'spec.selector', true);
  }

  function linkIngress(object: KubeObject, from: NodeId, namespace: string) {
    const spec = (object.spec ?? {}) as Record<string, any>;
    const backends = [spec.defaultBackend, ...(spec.rules ?? []).flatMap((rule: any) => (rule.http?.paths ?? []).map((path: any) => path.backend))];
    for (const backend of backends) {
      const name = backend?.service?.name ?? backend?.serviceName;
      if (typeof name === 'string') linkServiceByName(from, namespace, name, 'route', 'spec.rules backend');
    }
    for (const tls of spec.tls ?? []) {
      if (typeof tls.secretName !== 'string') continue;
      const secret = index.get('Secret', namespace, tls.secretName);
      if (secret) addEdge(from, idOf(secret), 'tls', 'spec.tls', false);
      else addDangling({ from, kind: 'missing-object', target: nodeId('Secret', namespace, tls.secretName), detail: 'spec.tls' });
    }
  }

  function linkGatewayRoute(object: KubeObject, from: NodeId, namespace: string) {
    const mirrors = (filters: unknown) => (Array.isArray(filters) ? filters : []).map((filter: any) => filter?.requestMirror?.backendRef).filter(Boolean);
    for (const rule of ((object.spec as any)?.rules ?? []) as any[]) {
      const refs: Array<[any, string]> = [
        ...((rule.backendRefs ?? []) as any[]).map((ref): [any, string] => [ref, 'spec.rules.backendRefs']),
        ...mirrors(rule.filters).map((ref): [any, string] => [ref, 'spec.rules.filters.requestMirror']),
        ...((rule.backendRefs ?? []) as any[]).flatMap((ref) => mirrors(ref?.filters).map((mirror): [any, string] => [mirror, 'spec.rules.backendRefs.filters.requestMirror'])),
      ];
      for (const [ref, detail] of refs) {
        if ((ref.kind ?? 'Service') !== 'Service' || (ref.group ?? '') !== '' || typeof ref.name !== 'string') continue;
        linkServiceByName(from, ref.namespace ?? namespace, ref.name, 'route', detail);
      }
    }
  }

  function linkVirtualService(object: KubeObject, from: NodeId, namespace: string) {
    const spec = (object.spec ?? {}) as Record<string, any>;
    for (const section of ['http', 'tcp', 'tls'] as const) {
      for (const route of spec[section] ?? []) {
        for (const destination of [...(route.route ?? []), route.mirror ? { destination: route.mirror } : undefined]) {
          linkHost(from, namespace, destination?.destination?.host, 'route', `spec.${section}.route.destination`);
        }
      }
    }
  }

  function linkHost(from: NodeId, namespace: string, host: unknown, reason: EdgeReason, detail: string) {
    if (typeof host !== 'string') return;
    const service = resolveService(host, namespace);
    if (service) addEdge(from, idOf(service), reason, detail, true);
    else if (host.includes('.') && !looksInCluster(host)) addDangling({ from, kind: 'external-host', target: host, detail });
    else addDangling({ from, kind: 'missing-service', target: host, detail });
  }

  function linkServiceByName(from: NodeId, namespace: string, name: string, reason: EdgeReason, detail: string) {
    const service = index.get('Service', namespace, name);
    if (service) addEdge(from, idOf(service), reason, detail, true);
    else addDangling({ from, kind: 'missing-service', target: `${name}.${namespace}`, detail });
  }

  function linkScaleTarget(object: KubeObject, from: NodeId, namespace: string) {
    const target = (object.spec as any)?.scaleTargetRef;
    if (!target?.kind || !target?.name) return;
    const workload = index.get(target.kind, namespace, target.name);
    if (workload) addEdge(from, idOf(workload), 'scaleTarget', 'spec.scaleTargetRef', false);
    else addDangling({ from, kind: 'missing-object', target: nodeId(target.kind, namespace, target.name), detail: 'spec.scaleTargetRef' });
  }

  function linkBudget(object: KubeObject, from: NodeId, namespace: string) {
    for (const workload of index.workloadsIn(namespace)) {
      const template = podTemplate(workload);
      if (template && labelSelectorMatches((object.spec as any)?.selector, template.labels)) {
        addEdge(from, idOf(workload), 'disruptionBudget', 'spec.selector', false);
      }
    }
  }

  function linkServiceAccount(object: KubeObject, from: NodeId, namespace: string) {
    const pulls = ((object as any).imagePullSecrets ?? []) as Array<{ name?: string }>;
    for (const pull of pulls) {
      const secret = pull.name ? index.get('Secret', namespace, pull.name) : undefined;
      if (secret) addEdge(from, idOf(secret), 'imagePullSecret', 'imagePullSecrets', false);
    }
  }

  function linkRoleBinding(object: KubeObject, from: NodeId, namespace: string) {
    const roleRef = (object as any).roleRef;
    if (roleRef?.kind === 'Role') {
      const role = index.get('Role', namespace, roleRef.name);
      if (role) addEdge(from, idOf(role), 'binding', 'roleRef', false);
    }
    for (const subject of ((object as any).subjects ?? []) as any[]) {
      if (subject.kind !== 'ServiceAccount') continue;
      const account = index.get('ServiceAccount', subject.namespace ?? namespace, subject.name);
      if (account) addEdge(from, idOf(account), 'binding', 'subjects', false);
    }
  }

  function linkDeclared(object: KubeObject, from: NodeId, namespace: string) {
    const declared = object.metadata.annotations?.[DEPENDS_ON_ANNOTATION];
    if (!declared) return;
    for (const entry of declared.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [targetNamespace, name] = entry.includes('/') ? entry.split('/', 2) as [string, string] : [namespace, entry];
      const target = index.get('Service', targetNamespace, name) ?? index.workloadNamed(targetNamespace, name);
      if (target) addEdge(from, idOf(target), 'declared', `annotation ${DEPENDS_ON_ANNOTATION}`, true);
      else addDangling({ from, kind: 'missing-object', target: entry, detail: `annotation ${DEPENDS_ON_ANNOTATION}` });
    }
  }

  /** The Service a name reaches from a pod in `namespace`: the first answer the pod's resolver gets. */
  function resolveHost(host: string, namespace: string): KubeObject | undefined {
    const key = `${namespace}\u0000${host}`;
    let answer = resolutions.get(key);
    if (answer === undefined) {
      answer = lookUp(host, namespace) ?? null;
      resolutions.set(key, answer);
    }
    return answer ?? undefined;
  }

  function lookUp(host: string, namespace: string): KubeObject | undefined {
    for (const target of dnsTargets(host, namespace)) {
      if (target.kind === 'service') {
        const service = index.get('Service', target.namespace, target.name);
        if (service) return service;
      } else {
        const service = index.headlessWithPod(target.namespace, target.service, target.hostname);
        if (service) return service;
      }
    }
    return undefined;
  }

  function resolveService(host: string, namespace: string): KubeObject | undefined {
    return resolveHost(host, namespace);
  }

  return {
    nodes: objects.map(idOf).sort(compareStrings),
    edges: [...edges.values()].flatMap((outgoing) => [...outgoing.values()]).sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to) || compareStrings(a.reason, b.reason)),
    dangling: [...dangling.values()].sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.target, b.target)),
  };
}

interface AddressPlan {
  detail: string;
  reason: EdgeReason;
  found: Array<{ evidence: EdgeEvidence; target?: KubeObject; targetId?: NodeId; dangling?: { kind: 'missing-service' | 'external-host'; target: string } }>;
}

/**
 * Whether an address in a value counts. Secrets are read for hosts only: a Secret's value is
 * read under an address key (`DB_HOST`, `DATABASE_URL`, `BROKERS`) and never otherwise (a
 * token can look like `word:123`); `$(VAR)` of a Secret's other values was masked on
 * expansion. Commands are full of words: there a bare word counts only as the value of a host
 * flag (`-h redis`, `--redis-host redis`, `nc -z redis 6379`), or when it has a dot
 * (`nslookup db.shop.svc.cluster.local`), which only a Service of the inventory satisfies.
 */
function counts(value: ConfiguredValue, address: Address, flagHosts: false | Set<string>): boolean {
  if (value.object.startsWith('Secret/')) return value.channel === 'env' && isHostKey(value.name);
  if (value.channel === 'env') return true;
  return address.explicit || address.host.includes('.') || (flagHosts !== false && flagHosts.has(address.host));
}

/** Words that follow a host flag in a command line: `-h db`, `--host db`, `nc -z db 5432`. */
function hostFlagValues(text: string): Set<string> {
  // Shell scripts glue punctuation to words: `until nc -z db 5432; do`.
  const words = text.split(/\s+/).map((word) => word.replace(/^["'(]+|["';&|)]+$/g, '')).filter(Boolean);
  const hosts = new Set<string>();
  for (let i = 0; i + 1 < words.length; i++) {
    const word = words[i]!;
    const next = words[i + 1]!.toLowerCase();
    if (word === '-h' || (/^--?[a-z][a-z0-9-]*$/i.test(word) && isHostKey(word.replace(/^-+/, '')))) hosts.add(next);
    else if (/^\d{1,5}$/.test(next) && i > 0 && /^(nc|ncat|netcat|telnet|-z|-zv|-vz)$/.test(words[i - 1]!)) hosts.add(word.toLowerCase());
  }
  return hosts;
}

/** A host that can only be meant as a Service in this cluster (`x.y.svc...` or a bare name). */
function looksInCluster(host: string): boolean {
  return !host.includes('.') || /\.svc(\.|$)/.test(host);
}

class ObjectIndex {
  private readonly byId = new Map<NodeId, KubeObject>();
  private readonly workloadsByNamespace = new Map<string, KubeObject[]>();
  private readonly servicesByNamespace = new Map<string, KubeObject[]>();
  /** How many workloads load each ConfigMap/Secret (env, envFrom, volumes). */
  private readonly loaders = new Map<NodeId, number>();
  private readonly decoded = new Map<NodeId, Record<string, string> | undefined>();
  private readonly links = new Map<string, Map<string, string>>();
  private readonly parsed = new Map<string, Address[]>();
  private readonly selectedBy = new WeakMap<KubeObject, Set<KubeObject>>();
  /** Workloads by one pod label, `namespace\u0000key=value`. */
  private readonly byLabel = new Map<string, KubeObject[]>();

  constructor(objects: readonly KubeObject[]) {
    for (const object of objects) {
      this.byId.set(idOf(object), object);
      const namespace = object.metadata.namespace ?? '';
      if (isWorkload(object)) {
        push(this.workloadsByNamespace, namespace, object);
        const loaded = new Set<NodeId>();
        const template = podTemplate(object);
        for (const [key, value] of Object.entries(template?.labels ?? {})) push(this.byLabel, labelKey(namespace, key, value), object);
        for (const reference of template ? podReferences(template.spec) : []) {
          if (reference.kind === 'ConfigMap' || reference.kind === 'Secret') loaded.add(nodeId(reference.kind, namespace, reference.name));
        }
        for (const id of loaded) this.loaders.set(id, (this.loaders.get(id) ?? 0) + 1);
      } else if (object.kind === 'Service') push(this.servicesByNamespace, namespace, object);
    }
  }

  /** A ConfigMap's data, or a Secret's decoded data and stringData. */
  data(kind: 'ConfigMap' | 'Secret', namespace: string, name: string): Record<string, string> | undefined {
    const id = nodeId(kind, namespace, name);
    if (this.decoded.has(id)) return this.decoded.get(id);
    const object = this.byId.get(id);
    let data: Record<string, string> | undefined;
    if (object) {
      const raw = ((object as any).data ?? {}) as Record<string, string>;
      if (kind === 'ConfigMap') data = raw;
      else {
        data = {};
        for (const [key, value] of Object.entries(raw)) data[key] = Buffer.from(value, 'base64').toString('utf8');
        Object.assign(data, (object as any).stringData ?? {});
      }
    }
    this.decoded.set(id, data);
    return data;
  }

  loadedByMany(id: NodeId): boolean {
    return (this.loaders.get(id) ?? 0) > 1;
  }

  serviceLinks(namespace: string): Map<string, string> {
    let links = this.links.get(namespace);
    if (!links) {
      links = serviceLinkVariables(this.servicesByNamespace.get(namespace) ?? []);
      this.links.set(namespace, links);
    }
    return links;
  }

  /** Addresses in a text, parsed once however many workloads load it. */
  addresses(text: string): Address[] {
    let addresses = this.parsed.get(text);
    if (!addresses) {
      addresses = addressesIn(text);
      this.parsed.set(text, addresses);
    }
    return addresses;
  }

  /**
   * The workloads a Service's selector picks (ExternalName and selector-less Services pick
   * none), in inventory order. Candidates come from a label index, so 10,000 Services over
   * 10,000 workloads cost their matches, not their product.
   */
  selectedWorkloads(service: KubeObject): Set<KubeObject> {
    let selected = this.selectedBy.get(service);
    if (!selected) {
      selected = new Set();
      const selector = (service.spec as any)?.selector as Record<string, string> | undefined;
      const first = selector ? Object.entries(selector)[0] : undefined;
      if (first && (service.spec as any)?.type !== 'ExternalName') {
        for (const workload of this.byLabel.get(labelKey(service.metadata.namespace ?? '', first[0], first[1])) ?? []) {
          if (selectorMatches(selector, podTemplate(workload)!.labels)) selected.add(workload);
        }
      }
      this.selectedBy.set(service, selected);
    }
    return selected;
  }

  selects(service: KubeObject, workload: KubeObject): boolean {
    return this.selectedWorkloads(service).has(workload);
  }

  /**
   * The headless Service `service` when the cluster's DNS has a record for `hostname` under it:
   * a StatefulSet's pod (`<sts>-<ordinal>` with serviceName `service`), a pod template with
   * that hostname and subdomain, or an endpoint named by its dashed IP.
   */
  headlessWithPod(namespace: string, service: string, hostname: string): KubeObject | undefined {
    const object = this.get('Service', namespace, service);
    const spec = (object?.spec ?? {}) as Record<string, any>;
    if (!object || spec.clusterIP !== 'None') return undefined;
    if (isDashedAddress(hostname) || !spec.selector || Object.keys(spec.selector).length === 0) return object;
    for (const workload of this.selectedWorkloads(object)) {
      const template = podTemplate(workload)!;
      const workloadSpec = (workload.spec ?? {}) as Record<string, any>;
      if (workload.kind === 'StatefulSet' && workloadSpec.serviceName === service) {
        const ordinal = hostname.startsWith(`${workload.metadata.name}-`) ? hostname.slice(workload.metadata.name.length + 1) : '';
        if (/^\d+$/.test(ordinal)) return object;
      } else if (template.spec.hostname === hostname && template.spec.subdomain === service) return object;
    }
    return undefined;
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.byId.get(nodeId(kind, namespace, name));
  }

  workloadsIn(namespace: string): readonly KubeObject[] {
    return this.workloadsByNamespace.get(namespace) ?? [];
  }

  workloadNamed(namespace: string, name: string): KubeObject | undefined {
    return this.workloadsIn(namespace).find((workload) => workload.metadata.name === name);
  }
}

function labelKey(namespace: string, key: string, value: string): string {
  return `${namespace}\u0000${key}=${value}`;
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}
