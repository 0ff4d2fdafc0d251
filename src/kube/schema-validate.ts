import type { KubeObject } from './object.js';

export interface SchemaCheck {
  valid: boolean;
  /** False when no schema is known for the kind (custom resources are checked against their CRD instead). */
  known: boolean;
  errors: string[];
}

/**
 * Validates a built-in object against the Kubernetes OpenAPI schema, through
 * kubernetes-models (generated from the upstream OpenAPI spec, validated with ajv).
 */
export async function validateAgainstKubernetesSchema(object: KubeObject): Promise<SchemaCheck> {
  let module: Record<string, unknown>;
  try {
    module = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  } catch {
    return { valid: true, known: false, errors: [] };
  }
  const Model = module[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) return { valid: true, known: false, errors: [] };
  try {
    new Model(object).validate();
    return { valid: true, known: true, errors: [] };
  } catch (error) {
    return { valid: false, known: true, errors: String((error as Error).message).split(', ') };
  }
}
