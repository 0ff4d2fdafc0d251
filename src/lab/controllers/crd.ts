/**
 * CustomResourceDefinitions: installing one makes its resource servable at once (in the
 * same write, so the next request can use it), with its schema, scope, names, status
 * subresource and printer columns; the CRD then reports NamesAccepted and Established.
 * Deleting it removes the resource and its objects.
 */
import type { KubeObject } from '../../kube/object.js';
import type { ObjectStore } from '../api/store.js';
import { storageKey, type PrinterColumn, type ResourceRegistry, type ResourceType } from '../api/registry.js';
import type { SchemaValidator } from '../api/validation.js';
import { ControllerClient, setCondition, type Condition } from './client.js';
import type { Controller } from './manager.js';

type Obj = Record<string, any>;

const CRD_RESOURCE = 'apiextensions.k8s.io/customresourcedefinitions';

/** Registers and unregisters resource types synchronously with CRD writes. */
export function watchDefinitions(store: ObjectStore, registry: ResourceRegistry, validator: SchemaValidator): () => void {
  return store.subscribe((event) => {
    if (event.resource !== CRD_RESOURCE) return;
    const previous = event.previous ? resourceTypeOf(event.previous) : undefined;
    if (previous) {
      registry.remove(previous.group, previous.plural);
      validator.forget(previous);
    }
    if (event.type === 'DELETED') {
      if (previous) store.dropResource(storageKey(previous.group, previous.plural));
      return;
    }
    const type = resourceTypeOf(event.object);
    if (type) registry.add(type);
  });
}

export function resourceTypeOf(crd: KubeObject): ResourceType | undefined {
  const spec = crd.spec as Obj | undefined;
  if (!spec?.group || !spec.names?.plural || !spec.names?.kind) return undefined;
  const versions = ((spec.versions ?? []) as Obj[]).filter((version) => version.served !== false);
  if (versions.length === 0) return undefined;
  const storage = versions.find((version) => version.storage) ?? versions[0]!;
  const ordered = [storage, ...versions.filter((version) => version !== storage)];
  return {
    group: spec.group,
    versions: ordered.map((version) => version.name as string),
    kind: spec.names.kind,
    listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    plural: spec.names.plural,
    singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    namespaced: spec.scope !== 'Cluster',
    shortNames: spec.names.shortNames ?? [],
    categories: spec.names.categories ?? [],
    status: ordered.some((version) => version.subresources?.status !== undefined),
    scale: ordered.some((version) => version.subresources?.scale !== undefined),
    generation: true,
    custom: {
      crdName: crd.metadata.name,
      schemas: Object.fromEntries(ordered.map((version) => [version.name, version.schema?.openAPIV3Schema])),
      columns: Object.fromEntries(ordered.map((version) => [version.name, (version.additionalPrinterColumns ?? []) as PrinterColumn[]])),
    },
  };
}

export function crdStatusController(client: ControllerClient): Controller {
  return {
    name: 'crd-status',
    keysFor: (event) => (event.resource === CRD_RESOURCE && event.type !== 'DELETED' ? [event.object.metadata.name] : []),
    initialKeys: () => client.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition').map((crd) => crd.metadata.name),
    reconcile(name) {
      const crd = client.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, name);
      if (!crd) return;
      const spec = crd.spec as Obj;
      const now = client.now();
      let conditions = ((crd.status as Obj | undefined)?.conditions ?? []) as Condition[];
      conditions = setCondition(conditions, { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' }, now);
      conditions = setCondition(conditions, { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' }, now);
      client.setStatus(crd, {
        conditions,
        acceptedNames: { plural: spec.names.plural, singular: spec.names.singular ?? spec.names.kind.toLowerCase(), kind: spec.names.kind, listKind: spec.names.listKind ?? `${spec.names.kind}List`, ...(spec.names.shortNames ? { shortNames: spec.names.shortNames } : {}), ...(spec.names.categories ? { categories: spec.names.categories } : {}) },
        storedVersions: ((spec.versions ?? []) as Obj[]).filter((v) => v.storage).map((v) => v.name),
      });
    },
  };
}
