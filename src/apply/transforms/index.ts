import { z } from 'zod';
import fastJsonPatch from 'fast-json-patch';
import type { KubeObject } from '../../kube/object.js';
import { describeObject } from '../../kube/object.js';
import { FerryError } from '../../util/errors.js';
import { shapeProblem } from '../../inventory/shape.js';
import { stripServerFields } from './strip-server-fields.js';
import { mapImageRegistry, mapIngressClass, mapNamespace, mapStorageClass, setReplicas } from './mappings.js';

/** Which objects a transform touches; every given field must match. */
const selectorSchema = z
  .object({
    kind: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const mappingSchema = z.record(z.string(), z.string());

/**
 * The named transforms a plan can enable (`spec.transforms` and a slice's `transforms`),
 * each with the schema of its `with` settings. Adding one is one entry here.
 */
const transforms = {
  'strip-server-fields': {
    settings: z.object({ pinNodePorts: z.boolean().default(false) }).strict(),
    apply: (object: KubeObject, settings: { pinNodePorts: boolean }) => stripServerFields(object, settings),
  },
  'map-storage-class': { settings: mappingSchema, apply: mapStorageClass },
  'map-ingress-class': { settings: mappingSchema, apply: mapIngressClass },
  'map-image-registry': { settings: mappingSchema, apply: mapImageRegistry },
  'map-namespace': { settings: mappingSchema, apply: mapNamespace },
  'set-replicas': {
    settings: z.object({ replicas: z.number().int().min(0), select: selectorSchema.optional() }).strict(),
    apply: (object: KubeObject, settings: { replicas: number; select?: z.infer<typeof selectorSchema> }) =>
      matches(object, settings.select) ? setReplicas(object, settings.replicas) : object,
  },
  'json-patch': {
    settings: z.object({ select: selectorSchema, patch: z.array(z.record(z.string(), z.unknown())).min(1) }).strict(),
    apply: (object: KubeObject, settings: { select: z.infer<typeof selectorSchema>; patch: Array<Record<string, unknown>> }) => {
      if (!matches(object, settings.select)) return object;
      try {
        return fastJsonPatch.applyPatch(structuredClone(object), settings.patch as unknown as fastJsonPatch.Operation[], true, false).newDocument;
      } catch (error) {
        throw new FerryError('transform', `json-patch failed on ${describeObject(object)}: ${(error as Error).message.split('\n')[0]}`, {
          location: { object: describeObject(object), field: 'with.patch' },
          fix: 'check the patch paths exist on the selected objects (RFC 6902)',
          cause: error,
        });
      }
    },
  },
} as const;

export type TransformName = keyof typeof transforms;
export const TRANSFORM_NAMES = Object.keys(transforms) as TransformName[];

export interface TransformSpec {
  name: string;
  with?: Record<string, unknown> | undefined;
}

type Compiled = (object: KubeObject) => KubeObject;

/** Checks every transform's name and settings up front, so a bad plan fails before anything is applied. */
export function compileTransforms(specs: readonly TransformSpec[], where = 'spec.transforms'): Compiled[] {
  return specs.map((spec, index) => {
    const transform = transforms[spec.name as TransformName];
    if (!transform) {
      throw new FerryError('plan', `unknown transform "${spec.name}"`, {
        location: { field: `${where}[${index}].name` },
        fix: `use one of: ${TRANSFORM_NAMES.join(', ')}`,
      });
    }
    const parsed = transform.settings.safeParse(spec.with ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new FerryError('plan', `transform "${spec.name}": ${issue.message}`, {
        location: { field: `${where}[${index}].with${issue.path.length ? `.${issue.path.join('.')}` : ''}` },
        fix: 'correct the transform settings',
      });
    }
    const apply = transform.apply as (o: KubeObject, s: unknown) => KubeObject;
    return (object: KubeObject) => {
      const result = apply(object, parsed.data);
      // A json-patch can write anything; what the next transform and the apply read must still be sound.
      const problem = result === object ? undefined : shapeProblem(result);
      if (problem) {
        throw new FerryError('transform', `transform "${spec.name}" leaves ${describeObject(object)} malformed: ${problem.field}: ${problem.message}`, {
          location: { object: describeObject(object), field: `${where}[${index}].with` },
          fix: 'correct the transform settings so the object keeps the shape Kubernetes expects',
        });
      }
      return result;
    };
  });
}

/** Runs the transforms in order over each object. */
export function transformObjects(objects: readonly KubeObject[], compiled: readonly Compiled[]): KubeObject[] {
  return objects.map((object) => compiled.reduce((current, transform) => transform(current), object));
}

function matches(object: KubeObject, select: z.infer<typeof selectorSchema> | undefined): boolean {
  if (!select) return true;
  if (select.kind !== undefined && select.kind !== object.kind) return false;
  if (select.name !== undefined && select.name !== object.metadata.name) return false;
  if (select.namespace !== undefined && select.namespace !== object.metadata.namespace) return false;
  return Object.entries(select.labels ?? {}).every(([key, value]) => object.metadata.labels?.[key] === value);
}
