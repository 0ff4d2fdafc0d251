/**
 * CRD validation rules (`x-kubernetes-validations`) evaluated on every write of a custom
 * resource — create, update, patch, server-side apply — the way the apiextensions API server
 * does it (k8s.io/apiextensions-apiserver pkg/apiserver/schema/cel/validation.go):
 * - a rule on a schema node runs once per value at that node (each list item, each map value),
 *   with `self` bound to the value; null and absent values are not validated;
 * - integers are CEL ints, `number` fields doubles; at the root `self` also has apiVersion,
 *   kind and metadata.name/generateName;
 * - transition rules (those reading `oldSelf`) run only on update where the old value can be
 *   correlated: object properties, map keys, and items of `x-kubernetes-list-type: map` lists
 *   by their keys (set and atomic list items cannot be);
 * - ratcheting: a rule without oldSelf failing on a value unchanged since the old object is a
 *   warning, not an error (CRDValidationRatcheting, on by default since 1.30);
 * - errors: `spec.rules[0]: Invalid value: "object": <message>`, `messageExpression` (then no
 *   value), `reason` Forbidden/Required/Duplicate, `fieldPath` appended, a runtime error as
 *   `<error> evaluating rule: <message or rule>`.
 * Not modelled: the cost budget, `optionalOldSelf` (such rules run only on correlated updates).
 */
import type { KubeObject } from '../../kube/object.js';
import type { StatusCause } from './status.js';
import { deepEqual } from './equal.js';
import { isPlainObject } from './field-set.js';
import { compileRule, type CompiledRule, type ValidationRule } from './cel-rules.js';

interface Schema {
  type?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-int-or-string'?: boolean;
}

export interface CelOutcome {
  causes: StatusCause[];
  warnings: string[];
}

const hasRulesCache = new WeakMap<object, boolean>();

/** Whether any node of the schema carries rules (cached per schema object: ordinary CRs pay nothing). */
export function schemaHasRules(schema: unknown): boolean {
  if (!isPlainObject(schema)) return false;
  let known = hasRulesCache.get(schema);
  if (known === undefined) {
    known = JSON.stringify(schema).includes('"x-kubernetes-validations"');
    hasRulesCache.set(schema, known);
  }
  return known;
}

/** Evaluates the schema's rules against a custom resource (and its previous version on update). */
export function validateRules(schema: unknown, object: KubeObject, old: KubeObject | undefined): CelOutcome {
  const outcome: CelOutcome = { causes: [], warnings: [] };
  if (!schemaHasRules(schema)) return outcome;
  const root = schema as Schema;
  walk(toCel(rootView(object), root), old ? toCel(rootView(old), root) : undefined, root, '', outcome);
  return outcome;
}

/** What `self` holds at the root: metadata is cut to name and generateName, as upstream. */
function rootView(object: KubeObject): Record<string, unknown> {
  const { metadata, ...rest } = object;
  const meta: Record<string, unknown> = {};
  if (metadata?.name !== undefined) meta.name = metadata.name;
  if (metadata?.generateName !== undefined) meta.generateName = metadata.generateName;
  return { ...rest, metadata: meta };
}

/**
 * JSON → the values rules see: integers become BigInt (CEL int) unless the schema says `number`
 * (double); absent properties with a schema `default` get it (the real server stores defaulted
 * objects; the lab does not default custom resources yet, so rules see what they would see there);
 * declared property names that are CEL keywords or hold `.`/`-`/`/`/`__` are escaped
 * (`namespace` → `__namespace__`), as Kubernetes does.
 */
function toCel(value: unknown, schema: Schema | undefined): unknown {
  if (typeof value === 'number') return Number.isInteger(value) && schema?.type !== 'number' ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    const additional = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    for (const [key, child] of Object.entries(value)) {
      const declared = schema?.properties?.[key];
      out[declared ? escapeName(key) : key] = toCel(child, declared ?? additional);
    }
    for (const [key, property] of Object.entries(schema?.properties ?? {})) {
      if (value[key] === undefined && property.default !== undefined) out[escapeName(key)] = toCel(structuredClone(property.default), property);
    }
    return out;
  }
  return value;
}

const CEL_RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/** k8s.io/apiserver/pkg/cel escaping of property names. */
function escapeName(name: string): string {
  if (CEL_RESERVED.has(name)) return `__${name}__`;
  if (!/[_.\-/]/.test(name)) return name;
  return name.replace(/__|\.|-|\//g, (m) => (m === '__' ? '__underscores__' : m === '.' ? '__dot__' : m === '-' ? '__dash__' : '__slash__'));
}

function walk(value: unknown, old: unknown, schema: Schema, path: string, outcome: CelOutcome): void {
  if (value === null || value === undefined) return;
  for (const rule of schema['x-kubernetes-validations'] ?? []) evaluate(compileRule(rule), value, old, schema, path, outcome);
  if (Array.isArray(value)) {
    if (!schema.items) return;
    const oldFor = correlateItems(schema, Array.isArray(old) ? old : undefined);
    value.forEach((item, index) => walk(item, oldFor(item), schema.items!, `${path}[${index}]`, outcome));
    return;
  }
  if (!isPlainObject(value)) return;
  const oldObject = isPlainObject(old) ? old : undefined;
  const declared = new Set<string>();
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const key = escapeName(name);
    declared.add(key);
    if (key in value) walk(value[key], oldObject?.[key], sub, path ? `${path}.${name}` : name, outcome);
  }
  const additional = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  if (!additional) return;
  for (const [key, child] of Object.entries(value)) if (!declared.has(key)) walk(child, oldObject?.[key], additional, `${path}[${key}]`, outcome);
}

/** Old items are found by their map keys in `listType: map` lists; other list items are not correlatable. */
function correlateItems(schema: Schema, old: unknown[] | undefined): (item: unknown) => unknown {
  const keys = schema['x-kubernetes-list-map-keys'];
  if (!old || schema['x-kubernetes-list-type'] !== 'map' || !keys?.length) return () => undefined;
  return (item) => {
    if (!isPlainObject(item)) return undefined;
    return old.find((candidate) => isPlainObject(candidate) && keys.every((key) => deepEqual(candidate[key], item[key])));
  };
}

function evaluate(compiled: CompiledRule, value: unknown, old: unknown, schema: Schema, path: string, outcome: CelOutcome): void {
  const { rule, program } = compiled;
  // A rule that does not compile never gets here: the CRD holding it was refused.
  if (!program) return;
  if (compiled.usesOldSelf && old === undefined) return;
  const type = schema.type ?? (schema['x-kubernetes-int-or-string'] ? 'int-or-string' : 'object');
  const field = path || '<nil>';
  const context = { self: value, oldSelf: old };
  let result: unknown;
  try {
    result = program(context);
  } catch (error) {
    const message = celErrorText(error);
    outcome.causes.push({ type: 'FieldValueInvalid', field, message: `Invalid value: "${type}": ${message} evaluating rule: ${ruleErrorString(rule)}` });
    return;
  }
  if (result === true) return;
  const at = rule.fieldPath ? joinFieldPath(path, rule.fieldPath) : field;
  let detail: string | undefined;
  if (compiled.messageProgram) {
    try {
      const text = compiled.messageProgram(context);
      if (typeof text === 'string' && text.trim() !== '') detail = text;
    } catch {
      // The real server logs a failed messageExpression and falls back to the message.
    }
  }
  const cause = causeFor(rule.reason, at, detail ?? ruleMessageOrDefault(rule), detail !== undefined ? undefined : displayValue(value, type));
  if (!compiled.usesOldSelf && old !== undefined && deepEqual(old, value)) outcome.warnings.push(`${cause.field}: ${cause.message}`);
  else outcome.causes.push(cause);
}

function causeFor(reason: string | undefined, field: string, detail: string, value: string | undefined): StatusCause {
  switch (reason) {
    case 'FieldValueForbidden': return { type: reason, field, message: `Forbidden: ${detail}` };
    case 'FieldValueRequired': return { type: reason, field, message: `Required value: ${detail}` };
    case 'FieldValueDuplicate': return { type: reason, field, message: `Duplicate value: ${value ?? '"object"'}` };
    default: return { type: 'FieldValueInvalid', field, message: value === undefined ? `Invalid value: ${detail}` : `Invalid value: ${value}: ${detail}` };
  }
}

/** Objects and lists are shown by their type ("object"), scalars by their value, as field.Invalid does. */
function displayValue(value: unknown, type: string): string {
  if (type === 'object' || type === 'array' || typeof value === 'object') return `"${type}"`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function ruleErrorString(rule: ValidationRule): string {
  return (rule.message?.trim() || rule.rule.trim());
}

function ruleMessageOrDefault(rule: ValidationRule): string {
  return rule.message?.trim() ? rule.message.trim() : `failed rule: ${ruleErrorString(rule)}`;
}

/** `.a.b` or `['x.y']` relative to the rule's node → `spec.a.b`, `spec[x.y]`. */
function joinFieldPath(base: string, relative: string): string {
  const parts = relative.match(/\.[^.[\]]+|\['(?:[^'\\]|\\.)*'\]/g) ?? [];
  let out = base;
  for (const part of parts) {
    if (part.startsWith('.')) out = out ? `${out}${part}` : part.slice(1);
    else out = `${out}[${part.slice(2, -2).replace(/\\(.)/g, '$1')}]`;
  }
  return out || '<nil>';
}

/** cel-go's wording of the common runtime errors ("no such key: x"). */
function celErrorText(error: unknown): string {
  const first = ((error as Error)?.message ?? String(error)).split('\n')[0]!.trim().replace(/re2Matches/g, 'matches');
  return first.replace(/^No such key/, 'no such key');
}
