import type { KubeObject } from '../kube/object.js';

export const REDACTED = '<redacted>';

/**
 * Every secret value among the objects (as stored and base64-encoded), so any text that
 * leaves Ferry (errors from the API server, diffs, reports) can be scrubbed of them.
 */
export function secretValues(objects: readonly KubeObject[]): string[] {
  const values = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'Secret') continue;
    const secret = object as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    for (const encoded of Object.values(secret.data ?? {})) {
      values.add(encoded);
      values.add(Buffer.from(encoded, 'base64').toString('utf8'));
    }
    for (const plain of Object.values(secret.stringData ?? {})) {
      values.add(plain);
      values.add(Buffer.from(plain, 'utf8').toString('base64'));
    }
  }
  // Very short values would redact ordinary words; they are not worth protecting this way.
  return [...values].filter((value) => value.length >= 4).sort((a, b) => b.length - a.length);
}

export function scrub(text: string, values: readonly string[]): string {
  let result = text;
  for (const value of values) result = result.split(value).join(REDACTED);
  return result;
}

/** A copy of the object with Secret values replaced, for display. */
export function redactObject(object: KubeObject): KubeObject {
  if (object.kind !== 'Secret') return object;
  const copy = structuredClone(object) as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
  for (const field of ['data', 'stringData'] as const) {
    const values = copy[field];
    if (values) for (const key of Object.keys(values)) values[key] = REDACTED;
  }
  return copy;
}
