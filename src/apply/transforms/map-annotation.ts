import type { KubeObject } from '../../kube/object.js';

/**
 * One annotation's values mapped to others, e.g. a workload-identity role ARN
 * (`eks.amazonaws.com/role-arn`) to the role the target cluster's issuer is trusted by.
 * Values without a mapping are left as they are.
 */
export function mapAnnotation(input: KubeObject, settings: { annotation: string; values: Record<string, string> }): KubeObject {
  const current = input.metadata.annotations?.[settings.annotation];
  if (current === undefined || !Object.hasOwn(settings.values, current)) return input;
  const object = structuredClone(input);
  object.metadata.annotations![settings.annotation] = settings.values[current]!;
  return object;
}
