import type { KubeObject } from '../kube/object.js';
import { compareStrings } from '../util/stable.js';
import { assertObjectShapes } from '../inventory/shape.js';
import { DEPENDS_ON_ANNOTATION, idOf, nodeId, type DanglingReference, type DependencyGraph, type EdgeReason, type GraphEdge, type NodeId } from './model.js';
import { envValues, isWorkload, labelSelectorMatches, podReferences, podTemplate, selectorMatches } from './pod-spec.js';
import { hostReferences, serviceForHost } from './service-refs.js';

/**
 * Builds the object-level dependency graph: edges "A depends on B" from selectors, pod
 * references, routes, autoscalers, budgets, env values naming Services and declared
 * annotations. Pure: the same objects give the same graph, in the same order.
 */
export function buildDependencyGraph(objects: readonly KubeObject[]): DependencyGraph {
  // Callers may hand in objects that never went through an inventory (the controller, preflight's transformed objects).
  assertObjectShapes(objects);
  const index = new ObjectIndex(objects);
  const edges = new Map<string, GraphEdge>();
  const dangling = new Map<string, DanglingReference>();
  const addEdge = (from: NodeId, to: NodeId, reason: EdgeReason, detail: string, runtime: boolean) => {
    if (from === to) return;
    const key = `${from}\u0000${to}\u0000${reason}`;
    if (!edges.has(key)) edges.set(key, { from, to, reason, detail, runtime });
  };
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
    for (const env of envValues(template.spec)) {
      for (const host of hostReferences(env.value)) {
        const detail = `container ${env.container} env ${env.name}`;
        const service = resolveService(host.host, namespace);
        if (service) addEdge(from, idOf(service), 'env', detail, true);
        else if (host.explicit && looksInCluster(host.host)) addDangling({ from, kind: 'missing-service', target: host.host, detail });
        else if (host.explicit && host.host.includes('.')) addDangling({ from, kind: 'external-host', target: host.port ? `${host.host}:${host.port}` : host.host, detail });
      }
    }
    const governing = (object.spec as any)?.serviceName;
    if (object.kind === 'StatefulSet' && typeof governing === 'string') {
      const service = index.get('Service', namespace, governing);
      if (service) addEdge(from, idOf(service), 'governingService', 'spec.serviceName', false);
    }
  }

  function linkService(object: KubeObject, from: NodeId, namespace: string) {
    const spec = (object.spec ?? {}) as Record<string, any>;
    if (spec.type === 'ExternalName' && typeof spec.externalName === 'string') {
      addDangling({ from, kind: 'external-host', target: spec.externalName, detail: 'spec.externalName' });
      return;
    }
    for (const workload of index.workloadsIn(namespace)) {
      const template = podTemplate(workload);
      if (template && selectorMatches(spec.selector, template.labels)) addEdge(from, idOf(workload), 'selector', 'spec.selector', true);
    }
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
    for (const rule of ((object.spec as any)?.rules ?? []) as any[]) {
      for (const ref of rule.backendRefs ?? []) {
        if ((ref.kind ?? 'Service') !== 'Service' || (ref.group ?? '') !== '') continue;
        linkServiceByName(from, ref.namespace ?? namespace, ref.name, 'route', 'spec.rules.backendRefs');
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

  function resolveService(host: string, namespace: string): KubeObject | undefined {
    const reference = serviceForHost(host, namespace);
    return reference ? index.get('Service', reference.namespace, reference.name) : undefined;
  }

  return {
    nodes: objects.map(idOf).sort(compareStrings),
    edges: [...edges.values()].sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to) || compareStrings(a.reason, b.reason)),
    dangling: [...dangling.values()].sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.target, b.target)),
  };
}

/** A host that can only be meant as a Service in this cluster (`x.y.svc...` or a bare name). */
function looksInCluster(host: string): boolean {
  return !host.includes('.') || /\.svc(\.|$)/.test(host);
}

class ObjectIndex {
  private readonly byId = new Map<NodeId, KubeObject>();
  private readonly workloadsByNamespace = new Map<string, KubeObject[]>();

  constructor(objects: readonly KubeObject[]) {
    for (const object of objects) {
      this.byId.set(idOf(object), object);
      if (isWorkload(object)) {
        const namespace = object.metadata.namespace ?? '';
        const list = this.workloadsByNamespace.get(namespace) ?? [];
        list.push(object);
        this.workloadsByNamespace.set(namespace, list);
      }
    }
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
