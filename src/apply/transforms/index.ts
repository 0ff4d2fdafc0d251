import { z } from 'zod';
import fastJsonPatch from 'fast-json-patch';
import type { KubeObject } from '../../kube/object.js';
import { describeObject } from '../../kube/object.js';
import { FerryError } from '../../util/errors.js';
import { shapeProblem } from '../../inventory/shape.js';
import { stripServerFields } from './strip-server-fields.js';
import { mapImageRegistry, mapIngressClass, mapNamespace, mapStorageClass, setReplicas } from './mappings.js';
import { mapAnnotation } from './map-annotation.js';

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
  'map-annotation': {
    settings: z.object({ annotation: z.string().min(1), values: mappingSchema, select: selectorSchema.optional() }).strict(),
    apply: (object: KubeObject, settings: { annotation: string; values: Record<string, string>; select?: z.infer<typeof selectorSchema> }) =>
      matches(object, settings.select) ? mapAnnotation(object, settings) : object,
  },
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
    const checked = checkTransform(spec);
    if ('problem' in checked) {
      throw new FerryError('plan', checked.problem.message, { location: { field: `${where}[${index}]${formatTail(checked.problem.tail)}` }, fix: checked.problem.fix });
    }
    return (object: KubeObject) => {
      const result = checked.apply(object);
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

/** A transform's name or settings that `ferry run` would refuse, with its path in the plan. */
export interface TransformProblem {
  path: Array<string | number>;
  message: string;
  fix: string;
}

/**
 * Every transform of a plan (spec.transforms and each slice's) that `compileTransforms` would
 * refuse when the run applies it, so `ferry validate` can refuse it first, with the same words.
 */
export function transformProblems(plan: { spec: { transforms?: readonly TransformSpec[]; waves: ReadonlyArray<{ slices: ReadonlyArray<{ transforms?: readonly TransformSpec[] | undefined }> }> } }): TransformProblem[] {
  const lists: Array<[Array<string | number>, readonly TransformSpec[]]> = [[['spec', 'transforms'], plan.spec.transforms ?? []]];
  plan.spec.waves.forEach((wave, w) => wave.slices.forEach((slice, s) => lists.push([['spec', 'waves', w, 'slices', s, 'transforms'], slice.transforms ?? []])));
  return lists.flatMap(([prefix, specs]) =>
    specs.flatMap((spec, index) => {
      const checked = checkTransform(spec);
      return 'problem' in checked ? [{ path: [...prefix, index, ...checked.problem.tail], message: checked.problem.message, fix: checked.problem.fix }] : [];
    }),
  );
}

function checkTransform(spec: TransformSpec): { apply: Compiled } | { problem: { tail: Array<string | number>; message: string; fix: string } } {
  const transform = transforms[spec.name as TransformName];
  if (!transform) return { problem: { tail: ['name'], message: `unknown transform "${spec.name}"`, fix: `use one of: ${TRANSFORM_NAMES.join(', ')}` } };
  const parsed = transform.settings.safeParse(spec.with ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const tail = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    return { problem: { tail: ['with', ...tail], message: `transform "${spec.name}": ${issue.message}`, fix: 'correct the transform settings' } };
  }
  const apply = transform.apply as (o: KubeObject, s: unknown) => KubeObject;
  return { apply: (object) => apply(object, parsed.data) };
}

function formatTail(tail: ReadonlyArray<string | number>): string {
  return tail.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('');
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
