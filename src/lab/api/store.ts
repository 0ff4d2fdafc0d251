/**
 * The in-memory object store of one lab cluster: objects per resource type, one global
 * resourceVersion counter, and a ring of recent events that watches resume from.
 * Stored objects are never mutated: writers replace them, so readers may hold them.
 */
import type { KubeObject } from '../../kube/object.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  /** `group/plural`. */
  resource: string;
  resourceVersion: number;
  object: KubeObject;
  /** The object before this change (MODIFIED, DELETED). */
  previous?: KubeObject;
}

export type StoreListener = (event: StoreEvent) => void;

export class ObjectStore {
  private readonly tables = new Map<string, Map<string, KubeObject>>();
  private readonly ring: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private revision: number;

  /** @param capacity how many events watches can resume from before a 410 Gone. */
  constructor(private readonly capacity = 50_000, start = 1000) {
    this.revision = start;
  }

  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest resourceVersion a watch can start from without missing events. */
  get oldestResumable(): number {
    return this.ring.length > 0 ? this.ring[0]!.resourceVersion - 1 : this.revision;
  }

  nextVersion(): number {
    return ++this.revision;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.tables.get(resource)?.get(objectId(namespace, name));
  }

  /** Objects of a type, optionally in one namespace; not sorted. */
  list(resource: string, namespace?: string): KubeObject[] {
    const table = this.tables.get(resource);
    if (!table) return [];
    const all = [...table.values()];
    return namespace ? all.filter((object) => object.metadata.namespace === namespace) : all;
  }

  count(resource: string): number {
    return this.tables.get(resource)?.size ?? 0;
  }

  resources(): string[] {
    return [...this.tables.keys()];
  }

  /** Stores an object whose metadata.resourceVersion the caller took from `nextVersion()`. */
  put(resource: string, object: KubeObject): void {
    const table = this.tables.get(resource) ?? new Map<string, KubeObject>();
    this.tables.set(resource, table);
    const id = objectId(object.metadata.namespace, object.metadata.name);
    const previous = table.get(id);
    table.set(id, object);
    this.emit({ type: previous ? 'MODIFIED' : 'ADDED', resource, resourceVersion: Number(object.metadata.resourceVersion), object, ...(previous ? { previous } : {}) });
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const table = this.tables.get(resource);
    const id = objectId(namespace, name);
    const previous = table?.get(id);
    if (!table || !previous) return undefined;
    table.delete(id);
    const resourceVersion = this.nextVersion();
    const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(resourceVersion) } };
    this.emit({ type: 'DELETED', resource, resourceVersion, object, previous });
    return object;
  }

  dropResource(resource: string): void {
    this.tables.delete(resource);
  }

  /** Events after `resourceVersion`, or undefined when the ring no longer reaches back that far. */
  eventsSince(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.oldestResumable) return undefined;
    // The ring is ordered by resourceVersion: binary search for the first newer event.
    let low = 0;
    let high = this.ring.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.ring[mid]!.resourceVersion <= resourceVersion) low = mid + 1;
      else high = mid;
    }
    return this.ring.slice(low);
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.splice(0, Math.max(1, this.capacity >> 3));
    for (const listener of this.listeners) listener(event);
  }
}

export function objectId(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
