import type { KubeObject } from '../../kube/object.js';
import { allContainers, podTemplate, type ContainerLike } from '../../graph/pod-spec.js';

/** Storage class names: PVCs and StatefulSet claim templates. */
export function mapStorageClass(input: KubeObject, mapping: Record<string, string>): KubeObject {
  const object = structuredClone(input) as KubeObject & Record<string, any>;
  const remap = (spec: Record<string, any> | undefined) => {
    if (spec && typeof spec.storageClassName === 'string' && mapping[spec.storageClassName] !== undefined) spec.storageClassName = mapping[spec.storageClassName];
  };
  if (object.kind === 'PersistentVolumeClaim') remap(object.spec);
  if (object.kind === 'StatefulSet') for (const template of object.spec?.volumeClaimTemplates ?? []) remap(template.spec);
  return object;
}

/** Ingress classes: spec.ingressClassName and the legacy kubernetes.io/ingress.class annotation. */
export function mapIngressClass(input: KubeObject, mapping: Record<string, string>): KubeObject {
  if (input.kind !== 'Ingress') return input;
  const object = structuredClone(input) as KubeObject & Record<string, any>;
  const current = object.spec?.ingressClassName;
  if (typeof current === 'string' && mapping[current] !== undefined) object.spec.ingressClassName = mapping[current];
  const annotations = object.metadata.annotations;
  const legacy = annotations?.['kubernetes.io/ingress.class'];
  if (annotations && legacy !== undefined && mapping[legacy] !== undefined) annotations['kubernetes.io/ingress.class'] = mapping[legacy];
  return object;
}

/**
 * Image registries: an image whose name starts with a `from` prefix gets the `to` prefix.
 * The longest matching prefix wins, so `docker.io/library` can map differently from `docker.io`.
 */
export function mapImageRegistry(input: KubeObject, mapping: Record<string, string>): KubeObject {
  const template = podTemplate(input);
  if (!template) return input;
  const object = structuredClone(input);
  const prefixes = Object.keys(mapping).sort((a, b) => b.length - a.length);
  const copy = podTemplate(object)!;
  const remap = (container: ContainerLike) => {
    if (typeof container.image !== 'string') return;
    const prefix = prefixes.find((candidate) => container.image!.startsWith(candidate.endsWith('/') ? candidate : `${candidate}/`));
    if (prefix !== undefined) container.image = `${mapping[prefix]!.replace(/\/$/, '')}/${container.image.slice(prefix.replace(/\/$/, '').length + 1)}`;
  };
  allContainers(copy.spec).forEach(remap);
  return object;
}

/** Namespaces: the object's own, Namespace objects, and namespaces named inside bindings and routes. */
export function mapNamespace(input: KubeObject, mapping: Record<string, string>): KubeObject {
  const object = structuredClone(input) as KubeObject & Record<string, any>;
  const remap = (namespace: unknown) => (typeof namespace === 'string' && mapping[namespace] !== undefined ? mapping[namespace] : namespace);
  if (object.metadata.namespace) object.metadata.namespace = remap(object.metadata.namespace) as string;
  if (object.kind === 'Namespace') object.metadata.name = remap(object.metadata.name) as string;
  // Any kind may carry these fields (custom resources are not shape-checked beyond spec): only lists of mappings are read.
  for (const subject of mappingsIn(object.subjects)) if (subject.namespace) subject.namespace = remap(subject.namespace);
  for (const rule of mappingsIn(object.spec?.rules)) for (const ref of mappingsIn(rule.backendRefs)) if (ref.namespace) ref.namespace = remap(ref.namespace);
  return object;
}

/** Replica count of workloads (e.g. start the target small, or at zero for a cold standby). */
export function setReplicas(input: KubeObject, replicas: number): KubeObject {
  if (!['Deployment', 'StatefulSet', 'ReplicaSet'].includes(input.kind)) return input;
  const object = structuredClone(input) as KubeObject & Record<string, any>;
  object.spec = { ...(object.spec ?? {}), replicas };
  return object;
}

function mappingsIn(value: unknown): Array<Record<string, any>> {
  return Array.isArray(value) ? value.filter((item): item is Record<string, any> => typeof item === 'object' && item !== null && !Array.isArray(item)) : [];
}
