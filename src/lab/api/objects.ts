/**
 * The semantics of writing objects, shared by the HTTP handlers and the controllers:
 * create/update/patch/apply/delete with resourceVersion preconditions, uid, generation,
 * creationTimestamp, status subresource rules, defaulting, validation, managedFields,
 * finalizers and deletionTimestamp.
 */
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../kube/object.js';
import { ObjectStore } from './store.js';
import { ResourceRegistry, apiVersionOf, storageKey, type ResourceType } from './registry.js';
import { ApiError, alreadyExists, badRequest, conflict, notFound, unsupportedMediaType } from './status.js';
import { applyDefaults } from './defaults.js';
import { SchemaValidator, validateBuiltin, type FieldValidation } from './validation.js';
import { builtinListType, schemaListTypes, type ListTypeResolver } from './list-types.js';
import { ApplyConflictError, recordUpdate, serverSideApply } from './ssa.js';
import { applyJsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { isPlainObject } from './field-set.js';
import { deepEqual } from './equal.js';

export interface WriteOptions {
  fieldManager?: string;
  fieldValidation?: FieldValidation;
  dryRun?: boolean;
  subresource?: 'status' | 'scale';
  /** Server-side apply only. */
  force?: boolean;
}

export interface WriteResult {
  object: KubeObject;
  created: boolean;
  warnings: string[];
}

export type PatchType = 'apply' | 'merge' | 'json' | 'strategic';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
};

export class ObjectService {
  readonly validator = new SchemaValidator();
  /** Deleted pods stay Terminating until the kubelet has stopped them (set when pods run as processes). */
  gracefulPodDeletion = false;
  private nextIp = 10;
  /** Where ClusterIPs come from when set: the lab's service network gives each cluster a loopback /16 (src/lab/network/addresses.ts). */
  clusterIPs: (() => string) | undefined;

  constructor(
    readonly store: ObjectStore,
    readonly registry: ResourceRegistry,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.store.get(storageKey(type.group, type.plural), ns(type, namespace), name);
    if (!object) throw notFound(type.plural, type.group, name);
    return object;
  }

  find(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(storageKey(type.group, type.plural), ns(type, namespace), name);
  }

  /** Objects of a kind by apiVersion/kind, for controllers. */
  typeOf(apiVersion: string, kind: string): ResourceType {
    const type = this.registry.byKind(apiVersion, kind);
    if (!type) throw badRequest(`no resource type for ${apiVersion} ${kind}`);
    return type;
  }

  create(type: ResourceType, version: string, namespace: string | undefined, body: unknown, options: WriteOptions = {}): WriteResult {
    const object = this.prepareNew(type, version, namespace, body);
    const warnings = this.admit(type, version, object, options.fieldValidation ?? 'Ignore');
    const key = storageKey(type.group, type.plural);
    if (this.store.get(key, object.metadata.namespace, object.metadata.name)) throw alreadyExists(type.plural, type.group, object.metadata.name);
    object.metadata.managedFields = recordUpdate({
      old: undefined, updated: object, manager: options.fieldManager ?? 'unknown', apiVersion: apiVersionOf(type.group, version),
      now: this.timestamp(), resolver: this.resolver(type, version),
    });
    if (options.dryRun) return { object, created: true, warnings };
    object.metadata.resourceVersion = String(this.store.nextVersion());
    this.store.put(key, object);
    return { object, created: true, warnings };
  }

  update(type: ResourceType, version: string, namespace: string | undefined, name: string, body: unknown, options: WriteOptions = {}): WriteResult {
    if (!isPlainObject(body)) throw badRequest('the body of an update must be an object');
    const incoming = structuredClone(body) as KubeObject;
    const existing = this.get(type, namespace, name);
    if (incoming.metadata?.name && incoming.metadata.name !== name) throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
    const rv = incoming.metadata?.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) {
      throw conflict(type.plural, type.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    return this.commit(type, version, existing, incoming, options);
  }

  patch(type: ResourceType, version: string, namespace: string | undefined, name: string, patchType: PatchType, raw: string, options: WriteOptions = {}): WriteResult {
    if (patchType === 'apply') return this.apply(type, version, namespace, name, raw, options);
    const existing = this.get(type, namespace, name);
    let patch: unknown;
    try {
      patch = JSON.parse(raw);
    } catch {
      throw badRequest('the body of a patch must be JSON');
    }
    const resolver = this.resolver(type, version);
    const base = structuredClone(existing) as Record<string, unknown>;
    let patched: unknown;
    if (patchType === 'json') patched = applyJsonPatch(base, patch);
    else if (patchType === 'merge') patched = mergePatch(base, patch);
    else if (patchType === 'strategic') {
      if (type.custom) throw unsupportedMediaType('application/strategic-merge-patch+json (not supported for custom resources)');
      patched = strategicMergePatch(base, patch, resolver);
    } else throw unsupportedMediaType(String(patchType));
    if (!isPlainObject(patched)) throw badRequest('the patch produced something that is not an object');
    const result = patched as KubeObject;
    const rv = result.metadata?.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) {
      throw conflict(type.plural, type.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    return this.commit(type, version, existing, result, options);
  }

  apply(type: ResourceType, version: string, namespace: string | undefined, name: string, raw: string, options: WriteOptions): WriteResult {
    let applied: unknown;
    try {
      applied = raw.trimStart().startsWith('{') ? JSON.parse(raw) : parseYaml(raw);
    } catch (error) {
      throw badRequest(`error decoding YAML: ${(error as Error).message}`);
    }
    if (!isPlainObject(applied)) throw badRequest('the body of an apply must be an object');
    const appliedObject = applied as KubeObject;
    if (!appliedObject.apiVersion || !appliedObject.kind) throw badRequest('apiVersion and kind must be set in an applied configuration');
    if (!options.fieldManager) throw badRequest('PATCH with apply requires the fieldManager query parameter');
    appliedObject.metadata = { ...(appliedObject.metadata ?? {}), name };
    if (type.namespaced) appliedObject.metadata.namespace = namespace;
    const existing = this.find(type, namespace, name);
    const apiVersion = apiVersionOf(type.group, version);
    let result;
    try {
      result = serverSideApply({
        live: existing as Record<string, unknown> | undefined,
        applied: appliedObject as Record<string, unknown>,
        manager: options.fieldManager,
        force: options.force ?? false,
        apiVersion,
        now: this.timestamp(),
        resolver: this.resolver(type, version),
        skipStatus: type.status && options.subresource !== 'status',
      });
    } catch (error) {
      if (error instanceof ApplyConflictError) {
        throw new ApiError(409, 'Conflict', error.message, {
          name, group: type.group, kind: type.plural,
          causes: error.conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
        });
      }
      throw error;
    }
    const object = result.object as KubeObject;
    object.metadata.managedFields = result.managedFields;
    if (!existing) {
      const created = this.prepareNew(type, version, namespace, object);
      created.metadata.managedFields = result.managedFields;
      const warnings = this.admit(type, version, created, options.fieldValidation ?? 'Ignore');
      if (options.dryRun) return { object: created, created: true, warnings };
      created.metadata.resourceVersion = String(this.store.nextVersion());
      this.store.put(storageKey(type.group, type.plural), created);
      return { object: created, created: true, warnings };
    }
    return this.commit(type, version, existing, object, { ...options, keepManagedFields: true } as WriteOptions & { keepManagedFields: boolean });
  }

  /** Deletes, or marks for deletion while finalizers remain. Returns the object as it was last seen. */
  delete(type: ResourceType, namespace: string | undefined, name: string, options: { uid?: string; resourceVersion?: string; dryRun?: boolean; propagationPolicy?: string; gracePeriodSeconds?: number } = {}): KubeObject {
    const existing = this.get(type, namespace, name);
    if (options.uid && options.uid !== existing.metadata.uid) throw conflict(type.plural, type.group, name, `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${existing.metadata.uid}`);
    if (options.resourceVersion && options.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(type.plural, type.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    if (options.dryRun) return existing;
    const isNamespace = type.kind === 'Namespace' && type.group === '';
    // Foreground and Orphan deletion are finalizers the garbage collector removes (controllers/garbage-collector.ts).
    const finalizers = withDeletionFinalizer((existing.metadata.finalizers as string[] | undefined) ?? [], isNamespace ? undefined : options.propagationPolicy);
    const grace = this.podGracePeriod(type, existing, options.gracePeriodSeconds);
    if (finalizers.length > 0 || isNamespace || grace > 0) {
      if (existing.metadata.deletionTimestamp && finalizers.length === ((existing.metadata.finalizers as string[] | undefined) ?? []).length) return existing;
      const marked = structuredClone(existing);
      if (finalizers.length > 0) marked.metadata.finalizers = finalizers;
      // A running pod is Terminating until its kubelet has stopped it (at most its grace period).
      marked.metadata.deletionTimestamp = existing.metadata.deletionTimestamp ?? (grace > 0 ? new Date(this.now().getTime() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : this.timestamp());
      marked.metadata.deletionGracePeriodSeconds = grace;
      if (isNamespace) marked.status = { ...((marked.status as object) ?? {}), phase: 'Terminating' };
      marked.metadata.resourceVersion = String(this.store.nextVersion());
      this.store.put(storageKey(type.group, type.plural), marked);
      return marked;
    }
    return this.store.remove(storageKey(type.group, type.plural), existing.metadata.namespace, name) ?? existing;
  }

  /**
   * Seconds a deleted pod stays Terminating: only where a kubelet runs pods as processes
   * (`gracefulPodDeletion`), for a pod bound to the node; gracePeriodSeconds=0 (a forced
   * delete) removes it at once, as on a real server.
   */
  private podGracePeriod(type: ResourceType, pod: KubeObject, requested: number | undefined): number {
    if (!this.gracefulPodDeletion || type.kind !== 'Pod' || type.group !== '' || !(pod.spec as { nodeName?: string } | undefined)?.nodeName) return 0;
    const grace = requested ?? (pod.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
    return Math.max(0, grace);
  }

  /** Removes an object outright (namespace finalization, garbage collection of terminating objects). */
  purge(type: ResourceType, namespace: string | undefined, name: string): void {
    this.store.remove(storageKey(type.group, type.plural), ns(type, namespace), name);
  }

  resolver(type: ResourceType, version: string): ListTypeResolver {
    const schema = type.custom?.schemas[version];
    return schema ? schemaListTypes(schema) : builtinListType;
  }

  private commit(type: ResourceType, version: string, existing: KubeObject, incoming: KubeObject, options: WriteOptions & { keepManagedFields?: boolean }): WriteResult {
    let next: KubeObject;
    if (options.subresource === 'status') {
      next = { ...structuredClone(existing), status: incoming.status };
      if (incoming.metadata?.managedFields && options.keepManagedFields) next.metadata.managedFields = incoming.metadata.managedFields;
    } else {
      next = incoming;
      next.apiVersion = apiVersionOf(type.group, version);
      next.kind = type.kind;
      if (type.status) {
        if (existing.status === undefined) delete next.status;
        else next.status = existing.status;
      }
      const meta = next.metadata ?? {};
      next.metadata = {
        ...meta,
        name: existing.metadata.name,
        ...(existing.metadata.namespace ? { namespace: existing.metadata.namespace } : {}),
        uid: existing.metadata.uid,
        creationTimestamp: existing.metadata.creationTimestamp,
        ...(existing.metadata.generation !== undefined ? { generation: existing.metadata.generation } : {}),
        ...(existing.metadata.deletionTimestamp ? { deletionTimestamp: existing.metadata.deletionTimestamp, deletionGracePeriodSeconds: existing.metadata.deletionGracePeriodSeconds } : {}),
      };
      if (!options.keepManagedFields) next.metadata.managedFields = existing.metadata.managedFields;
      applyDefaults(next, { allocateClusterIP: () => this.allocateClusterIP() });
    }
    const warnings = options.subresource === 'status' ? [] : this.admit(type, version, next, options.fieldValidation ?? 'Ignore', existing);
    if (type.generation && specChanged(existing, next)) next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    if (!options.keepManagedFields) {
      next.metadata.managedFields = recordUpdate({
        old: existing as Record<string, unknown>, updated: next as Record<string, unknown>, manager: options.fieldManager ?? 'unknown',
        apiVersion: apiVersionOf(type.group, version), now: this.timestamp(), resolver: this.resolver(type, version),
        ...(options.subresource ? { subresource: options.subresource } : {}),
      });
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (sameContent(existing, next)) return { object: existing, created: false, warnings };
    if (options.dryRun) return { object: next, created: false, warnings };
    const key = storageKey(type.group, type.plural);
    if (next.metadata.deletionTimestamp && ((next.metadata.finalizers as string[] | undefined) ?? []).length === 0 && type.kind !== 'Namespace') {
      return { object: this.store.remove(key, next.metadata.namespace, next.metadata.name) ?? next, created: false, warnings };
    }
    next.metadata.resourceVersion = String(this.store.nextVersion());
    this.store.put(key, next);
    return { object: next, created: false, warnings };
  }

  private prepareNew(type: ResourceType, version: string, namespace: string | undefined, body: unknown): KubeObject {
    if (!isPlainObject(body)) throw badRequest('the body of a create must be an object');
    const object = structuredClone(body) as KubeObject;
    const apiVersion = apiVersionOf(type.group, version);
    if (object.kind && object.kind !== type.kind) throw badRequest(`the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersion}) or kind ${type.kind}`);
    object.apiVersion = apiVersion;
    object.kind = type.kind;
    object.metadata = { ...(object.metadata ?? {}) } as KubeObject['metadata'];
    const meta = object.metadata;
    if (type.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace ?? meta.namespace ?? 'default';
      this.requireNamespace(meta.namespace);
    } else delete meta.namespace;
    if (!meta.name && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) throw new ApiError(422, 'Invalid', `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    meta.uid = randomUUID();
    meta.creationTimestamp = this.timestamp();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    if (type.generation) meta.generation = 1;
    else delete meta.generation;
    if (type.status && type.kind !== 'Namespace') delete object.status;
    applyDefaults(object, { allocateClusterIP: () => this.allocateClusterIP() });
    return object;
  }

  private admit(type: ResourceType, version: string, object: KubeObject, mode: FieldValidation, old?: KubeObject): string[] {
    validateBuiltin(type, object);
    if (type.custom) return this.validator.validateCustom(type, version, object, mode, old);
    return [];
  }

  private requireNamespace(namespace: string): void {
    const found = this.store.get(storageKey('', 'namespaces'), undefined, namespace);
    if (!found) throw notFound('namespaces', '', namespace);
    if (found.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  private allocateClusterIP(): string {
    if (this.clusterIPs) return this.clusterIPs();
    const n = this.nextIp++;
    return `10.96.${(n >> 8) & 255}.${n & 255}`;
  }

  timestamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** The API server's deletion finalizers: `foregroundDeletion` for Foreground, `orphan` for Orphan (DeleteOptions.propagationPolicy). */
function withDeletionFinalizer(finalizers: string[], propagationPolicy: string | undefined): string[] {
  const finalizer = propagationPolicy === 'Foreground' ? 'foregroundDeletion' : propagationPolicy === 'Orphan' ? 'orphan' : undefined;
  return finalizer && !finalizers.includes(finalizer) ? [...finalizers, finalizer] : finalizers;
}

function ns(type: ResourceType, namespace: string | undefined): string | undefined {
  return type.namespaced ? namespace : undefined;
}

function specChanged(before: KubeObject, after: KubeObject): boolean {
  const strip = (object: KubeObject) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = object;
    return rest;
  };
  return !deepEqual(strip(before), strip(after));
}

function sameContent(before: KubeObject, after: KubeObject): boolean {
  const strip = (object: KubeObject) => {
    const { managedFields: _mf, ...meta } = object.metadata;
    return { ...object, metadata: meta };
  };
  return deepEqual(strip(before), strip(after));
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

export { randomSuffix };
