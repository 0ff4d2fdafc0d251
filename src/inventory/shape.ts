import { z } from 'zod';
import type { KubeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';

/**
 * The shape of every field Ferry reads from an object (graph, plan, transforms, preflight,
 * reports), checked once when objects enter Ferry, so the code past this point can trust it
 * and a malformed manifest is an error naming the object, the field and the fix, never a
 * JavaScript TypeError. Only the fields Ferry reads are checked: everything else passes
 * untouched (loose objects), and null is accepted wherever the API server reads it as absent.
 */
const text = z.string();
const optional = <T extends z.ZodType>(schema: T) => schema.nullish();
const list = <T extends z.ZodType>(item: T) => optional(z.array(item));
const loose = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);
const stringMap = optional(z.record(z.string(), z.string()));
const named = optional(loose({ name: optional(text) }));

const labelSelector = optional(loose({
  matchLabels: stringMap,
  matchExpressions: list(loose({ key: text, operator: text, values: list(text) })),
}));

const container = loose({
  name: optional(text),
  image: optional(text),
  env: list(loose({
    name: optional(text),
    value: optional(text),
    valueFrom: optional(loose({ configMapKeyRef: named, secretKeyRef: named })),
  })),
  envFrom: list(loose({ configMapRef: named, secretRef: named })),
  resources: optional(loose({
    requests: optional(z.record(z.string(), z.union([z.string(), z.number()]))),
    limits: optional(z.record(z.string(), z.union([z.string(), z.number()]))),
  })),
});

const podSpec = loose({
  containers: list(container),
  initContainers: list(container),
  volumes: list(loose({
    name: optional(text),
    configMap: named,
    secret: optional(loose({ secretName: optional(text) })),
    persistentVolumeClaim: optional(loose({ claimName: optional(text) })),
    projected: optional(loose({ sources: list(loose({ configMap: named, secret: named })) })),
  })),
  imagePullSecrets: list(loose({ name: optional(text) })),
  serviceAccountName: optional(text),
  serviceAccount: optional(text),
});

const podTemplate = optional(loose({
  metadata: optional(loose({ labels: stringMap })),
  spec: optional(podSpec),
}));

const workloadSpec = loose({
  replicas: optional(z.number().int().min(0)),
  selector: optional(z.union([labelSelector, stringMap])),
  serviceName: optional(text),
  template: podTemplate,
  volumeClaimTemplates: list(loose({
    metadata: optional(loose({ name: optional(text) })),
    spec: optional(loose({ storageClassName: optional(text) })),
  })),
});

const servicePort = loose({ name: optional(text), port: optional(z.number()), nodePort: optional(z.number()), protocol: optional(text) });
const ingressBackend = optional(loose({
  service: optional(loose({ name: optional(text), port: optional(loose({ number: optional(z.number()), name: optional(text) })) })),
  serviceName: optional(text),
}));
const routeRules = list(loose({
  backendRefs: list(loose({ kind: optional(text), group: optional(text), name: text, namespace: optional(text), port: optional(z.number()) })),
}));
const istioDestination = optional(loose({ host: optional(text), port: optional(loose({ number: optional(z.number()) })) }));
const istioRoutes = list(loose({ route: list(loose({ destination: istioDestination })), mirror: istioDestination }));

/** spec per kind; kinds not listed only need spec to be a mapping. */
const specs: Record<string, z.ZodType> = {
  Pod: podSpec,
  Deployment: workloadSpec,
  StatefulSet: workloadSpec,
  DaemonSet: workloadSpec,
  ReplicaSet: workloadSpec,
  ReplicationController: workloadSpec,
  Job: workloadSpec.extend({ manualSelector: optional(z.boolean()) }),
  CronJob: loose({ jobTemplate: optional(loose({ spec: optional(loose({ template: podTemplate })) })) }),
  Service: loose({
    type: optional(text),
    selector: stringMap,
    ports: list(servicePort),
    externalName: optional(text),
    clusterIP: optional(text),
  }),
  Ingress: loose({
    ingressClassName: optional(text),
    defaultBackend: ingressBackend,
    backend: ingressBackend,
    rules: list(loose({ host: optional(text), http: optional(loose({ paths: list(loose({ backend: ingressBackend })) })) })),
    tls: list(loose({ secretName: optional(text), hosts: list(text) })),
  }),
  HTTPRoute: loose({ rules: routeRules, hostnames: list(text), parentRefs: list(loose({ name: optional(text), namespace: optional(text), sectionName: optional(text) })) }),
  GRPCRoute: loose({ rules: routeRules, hostnames: list(text) }),
  TCPRoute: loose({ rules: routeRules }),
  TLSRoute: loose({ rules: routeRules, hostnames: list(text) }),
  UDPRoute: loose({ rules: routeRules }),
  VirtualService: loose({ hosts: list(text), gateways: list(text), http: istioRoutes, tcp: istioRoutes, tls: istioRoutes }),
  DestinationRule: loose({ host: optional(text) }),
  HorizontalPodAutoscaler: loose({ scaleTargetRef: optional(loose({ kind: optional(text), name: optional(text) })) }),
  PodDisruptionBudget: loose({ selector: labelSelector }),
  PersistentVolumeClaim: loose({ storageClassName: optional(text), volumeName: optional(text), accessModes: list(text) }),
  PersistentVolume: loose({ storageClassName: optional(text), claimRef: optional(loose({ namespace: optional(text), name: optional(text) })) }),
  CustomResourceDefinition: loose({ group: optional(text), names: optional(loose({ kind: optional(text) })), scope: optional(text) }),
};

const objectName = text.min(1, 'must not be empty').refine((name) => !name.includes('/'), 'must not contain "/"');

const metadata = loose({
  name: objectName,
  namespace: optional(text.refine((namespace) => !namespace.includes('/'), 'must not contain "/"')),
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: list(loose({ controller: optional(z.boolean()) })),
});

const topLevel: Record<string, z.ZodRawShape> = {
  ServiceAccount: { imagePullSecrets: list(loose({ name: optional(text) })) },
  RoleBinding: { roleRef: optional(loose({ kind: optional(text), name: optional(text) })), subjects: list(loose({ kind: optional(text), name: optional(text), namespace: optional(text) })) },
  ClusterRoleBinding: { roleRef: optional(loose({ kind: optional(text), name: optional(text) })), subjects: list(loose({ kind: optional(text), name: optional(text), namespace: optional(text) })) },
  Secret: { data: stringMap, stringData: stringMap, type: optional(text) },
  ConfigMap: { data: stringMap, binaryData: stringMap },
  StorageClass: { provisioner: optional(text) },
};

const schemaCache = new Map<string, z.ZodType>();
function schemaFor(kind: string): z.ZodType {
  let schema = schemaCache.get(kind);
  if (!schema) {
    schema = loose({
      apiVersion: text.min(1, 'must not be empty'),
      kind: text.min(1, 'must not be empty'),
      metadata,
      spec: optional(specs[kind] ?? z.record(z.string(), z.unknown())),
      ...topLevel[kind],
    });
    schemaCache.set(kind, schema);
  }
  return schema;
}

/** Objects already found well-shaped (checking is cheap, but the graph and the plan see the same objects again). */
const checked = new WeakSet<object>();

export interface ShapeProblem {
  /** `spec.template.spec.containers[0].env[1].value` */
  field: string;
  path: Array<string | number>;
  message: string;
}

/** The first field of `value` (read as a Kubernetes object) whose shape Ferry cannot use; undefined when it is fine. */
export function shapeProblem(value: unknown): ShapeProblem | undefined {
  if (typeof value === 'object' && value !== null && checked.has(value)) return undefined;
  const kind = typeof (value as { kind?: unknown } | null)?.kind === 'string' ? (value as { kind: string }).kind : '';
  const result = schemaFor(kind).safeParse(value, { reportInput: true });
  if (result.success) {
    checked.add(value as object);
    return undefined;
  }
  const issue = result.error.issues[0]!;
  const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
  return { field: formatField(path), path, message: describe(issue) };
}

/**
 * Throws a FerryError for the first malformed field: `Deployment default/web: spec: expected a
 * mapping, got number 5`. `where` adds the file and line when the object came from a manifest.
 */
export function assertObjectShape(value: unknown, where?: { file: string; positionOf?: (path: Array<string | number>) => { line: number; column: number } }): asserts value is KubeObject {
  const problem = shapeProblem(value);
  if (!problem) return;
  const position = where?.positionOf?.(problem.path);
  throw new FerryError('manifests', `${problem.field}: ${problem.message}`, {
    location: {
      ...(where ? { file: where.file, ...(position ? { line: position.line, column: position.column } : {}) } : {}),
      object: describeShapeless(value),
    },
    fix: fixFor(problem),
  });
}

/** Checks every object (the first malformed one is the error). */
export function assertObjectShapes(objects: readonly unknown[]): void {
  for (const object of objects) assertObjectShape(object);
}

function describeShapeless(value: unknown): string {
  const candidate = (value ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const kind = typeof candidate.kind === 'string' && candidate.kind ? candidate.kind : 'object';
  const meta = typeof candidate.metadata === 'object' && candidate.metadata !== null ? candidate.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '(no name)';
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? `${meta.namespace}/` : '';
  return `${kind} ${namespace}${name}`;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const input = (issue as { input?: unknown }).input;
    return `expected ${expectedName(issue.expected)}, got ${received(input)}`;
  }
  if (issue.code === 'invalid_union') return 'expected a label selector (matchLabels/matchExpressions) or a map of labels';
  return issue.message;
}

function expectedName(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a mapping';
  if (expected === 'array') return 'a list';
  if (expected === 'string') return 'a string';
  if (expected === 'number' || expected === 'int') return 'a number';
  if (expected === 'boolean') return 'true or false';
  return expected;
}

function received(input: unknown): string {
  if (input === undefined) return 'nothing (the field is missing)';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  // Short values help; long strings may be secrets, so only their type is named.
  return typeof input === 'string' && input.length > 24 ? 'a string' : `${typeof input} ${JSON.stringify(input)}`;
}

function fixFor(problem: ShapeProblem): string {
  const last = problem.path[problem.path.length - 1];
  const parent = problem.path[problem.path.length - 2];
  const stringValued = parent === 'labels' || parent === 'annotations' || parent === 'data' || parent === 'stringData' || parent === 'binaryData' || (last === 'value' && problem.path[problem.path.length - 3] === 'env');
  if (stringValued && problem.message.endsWith('got null')) return 'write "" for an empty value, or remove the key';
  if (parent === 'labels' || parent === 'annotations' || (last === 'value' && problem.path[problem.path.length - 3] === 'env')) {
    return 'quote the value: Kubernetes takes only strings there (e.g. "8080", "true")';
  }
  if (parent === 'data' || parent === 'stringData' || parent === 'binaryData') return 'quote the value: Secret and ConfigMap data values are strings';
  return 'correct the field as the Kubernetes API reference describes it for this kind (`kubectl explain`), or remove the object from the manifests';
}

function formatField(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${key}` : key), '') || '(object)';
}
