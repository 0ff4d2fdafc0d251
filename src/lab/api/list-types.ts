/**
 * How each list in an object merges: by key (associative, like containers by name), or
 * atomically (replaced whole). Server-side apply and strategic merge patch both need it;
 * the real API server reads it from the OpenAPI schema (x-kubernetes-list-type and
 * patchMergeKey). Built-in kinds use the table below; custom resources read their CRD schema.
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy
 */
export type ListType = { type: 'map'; keys: string[] } | { type: 'atomic' } | { type: 'set' };

/** Given the field names from the object root to a list (no indices), how that list merges. */
export type ListTypeResolver = (path: readonly string[]) => ListType;

const ATOMIC: ListType = { type: 'atomic' };

// Matched against the end of the field path; the first match wins.
const builtinRules: Array<[suffix: string[], type: ListType]> = [
  [['containers', 'ports'], { type: 'map', keys: ['containerPort', 'protocol'] }],
  [['initContainers', 'ports'], { type: 'map', keys: ['containerPort', 'protocol'] }],
  [['containers'], { type: 'map', keys: ['name'] }],
  [['initContainers'], { type: 'map', keys: ['name'] }],
  [['ephemeralContainers'], { type: 'map', keys: ['name'] }],
  [['env'], { type: 'map', keys: ['name'] }],
  [['volumeMounts'], { type: 'map', keys: ['mountPath'] }],
  [['volumeDevices'], { type: 'map', keys: ['devicePath'] }],
  [['volumes'], { type: 'map', keys: ['name'] }],
  [['imagePullSecrets'], { type: 'map', keys: ['name'] }],
  [['hostAliases'], { type: 'map', keys: ['ip'] }],
  [['resourceClaims'], { type: 'map', keys: ['name'] }],
  [['topologySpreadConstraints'], { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] }],
  [['spec', 'ports'], { type: 'map', keys: ['port', 'protocol'] }],
  [['conditions'], { type: 'map', keys: ['type'] }],
  [['metadata', 'ownerReferences'], { type: 'map', keys: ['uid'] }],
  [['metadata', 'finalizers'], { type: 'set' }],
];

export function builtinListType(path: readonly string[]): ListType {
  for (const [suffix, type] of builtinRules) {
    if (suffix.length > path.length) continue;
    let matches = true;
    for (let i = 1; i <= suffix.length; i++) {
      if (suffix[suffix.length - i] !== path[path.length - i]) {
        matches = false;
        break;
      }
    }
    if (matches) return type;
  }
  return ATOMIC;
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

/** A resolver that reads x-kubernetes-list-type from a CRD's openAPIV3Schema; metadata uses the built-in rules. */
export function schemaListTypes(schema: unknown): ListTypeResolver {
  return (path) => {
    if (path[0] === 'metadata') return builtinListType(path);
    let node = schema as SchemaNode | undefined;
    for (const field of path) {
      if (!node) break;
      if (node.type === 'array') node = node.items;
      if (!node) break;
      node = node.properties?.[field] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    }
    const listType = node?.['x-kubernetes-list-type'];
    if (listType === 'map') return { type: 'map', keys: node?.['x-kubernetes-list-map-keys'] ?? [] };
    if (listType === 'set') return { type: 'set' };
    return ATOMIC;
  };
}

/** The key of a list item under a map-type list, as the fieldsV1 `k:{...}` element spells it. */
export function itemKey(item: unknown, keys: readonly string[]): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const record = item as Record<string, unknown>;
  const present: Record<string, unknown> = {};
  let any = false;
  for (const key of keys) {
    // Service and container ports default protocol to TCP; an absent key would otherwise split one port in two.
    const value = record[key] ?? (key === 'protocol' ? 'TCP' : undefined);
    if (value !== undefined) {
      present[key] = value;
      any = true;
    }
  }
  return any ? JSON.stringify(present) : undefined;
}
