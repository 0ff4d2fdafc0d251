/**
 * Admission checks on write: object names, the few built-in rules that catch broken
 * manifests (a Deployment whose selector does not match its template…), and for custom
 * resources the CRD's openAPIV3Schema (ajv) with unknown-field pruning, or rejection
 * when the client asked for `fieldValidation=Strict` (kubectl's default).
 */
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { KubeObject } from '../../kube/object.js';
import type { ResourceType } from './registry.js';
import { invalid, type StatusCause } from './status.js';
import { isPlainObject } from './field-set.js';
import { labelSelectorFromObject, matchesLabels } from './selectors.js';
import { validateRules } from './cel.js';
import { crdRuleProblems } from './cel-rules.js';
import { rollingUpdateProblems } from './rolling-update.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// Kinds whose names must be DNS labels (they become hostnames or DNS records).
const LABEL_NAMED = new Set(['Namespace', 'Service']);

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true, verbose: true });
    addFormats(this.ajv);
    // OpenAPI formats Kubernetes schemas use that JSON Schema does not define.
    for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password', 'int-or-string', 'quantity', 'cidr', 'mac', 'ip', 'isbn', 'hostname', 'uri']) {
      this.ajv.addFormat(format, true);
    }
  }

  /** Validates a custom resource; returns warnings for pruned fields (Warn), throws 422 on errors. */
  validateCustom(type: ResourceType, version: string, object: KubeObject, mode: FieldValidation, old?: KubeObject): string[] {
    const schema = type.custom?.schemas[version];
    if (!schema) return [];
    const unknown: string[] = [];
    if (isPlainObject(schema)) pruneUnknown(object, schema, '', unknown, true);
    const causes: StatusCause[] = [];
    if (unknown.length > 0 && mode === 'Strict') {
      for (const field of unknown) causes.push({ type: 'FieldValueInvalid', field, message: `unknown field "${field}"` });
    }
    const key = `${type.group}/${type.plural}/${version}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(withoutMetadata(schema as Record<string, unknown>));
      this.compiled.set(key, validate);
    }
    const { metadata: _metadata, ...rest } = object;
    if (!validate(rest)) causes.push(...(validate.errors ?? []).map(toCause));
    // CEL rules (x-kubernetes-validations) only see objects that passed the schema, so they can trust its types.
    const cel = causes.length === 0 ? validateRules(schema, object, old) : { causes: [], warnings: [] };
    causes.push(...cel.causes);
    if (causes.length > 0) throw invalid(type.kind, type.group, object.metadata.name, causes);
    return [...(mode === 'Warn' ? unknown.map((field) => `unknown field "${field}"`) : []), ...cel.warnings];
  }

  forget(type: ResourceType): void {
    for (const key of this.compiled.keys()) if (key.startsWith(`${type.group}/${type.plural}/`)) this.compiled.delete(key);
  }
}

/** Built-in rules: names, label values, and workload selectors matching their pod templates. */
export function validateBuiltin(type: ResourceType, object: KubeObject): void {
  const causes: StatusCause[] = [];
  const name = object.metadata.name;
  const pattern = LABEL_NAMED.has(type.kind) ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!type.custom && type.group !== 'rbac.authorization.k8s.io' && !(pattern.test(name) && name.length <= 253)) {
    causes.push({ type: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 ${pattern === DNS_LABEL ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` });
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63) {
      causes.push({ type: 'FieldValueInvalid', field: `metadata.labels`, message: `Invalid value: "${String(value)}": label ${key} must be 63 characters or less, alphanumeric, '-', '_' or '.'` });
    }
  }
  const spec = object.spec as Record<string, any> | undefined;
  if (['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(type.kind) && type.group === 'apps') {
    if (!spec?.selector) causes.push({ type: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
    else if (!matchesLabels(labelSelectorFromObject(spec.selector), spec.template?.metadata?.labels)) {
      causes.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', message: 'Invalid value: `selector` does not match template `labels`' });
    }
    validateContainers(spec?.template?.spec, 'spec.template.spec', causes);
  }
  if (type.kind === 'Pod' && type.group === '') validateContainers(spec, 'spec', causes);
  if (type.kind === 'CustomResourceDefinition' && type.group === 'apiextensions.k8s.io') causes.push(...crdRuleProblems(object));
  if (type.kind === 'Deployment' && type.group === 'apps') causes.push(...rollingUpdateProblems(spec));
  if (causes.length > 0) throw invalid(type.kind, type.group, name, causes);
}

function validateContainers(podSpec: Record<string, any> | undefined, at: string, causes: StatusCause[]): void {
  const containers = podSpec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ type: 'FieldValueRequired', field: `${at}.containers`, message: 'Required value' });
    return;
  }
  containers.forEach((container: Record<string, unknown>, index) => {
    if (!container.name) causes.push({ type: 'FieldValueRequired', field: `${at}.containers[${index}].name`, message: 'Required value' });
    if (!container.image) causes.push({ type: 'FieldValueRequired', field: `${at}.containers[${index}].image`, message: 'Required value' });
  });
}

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  required?: string[];
}

/** Removes fields the structural schema does not declare (what the API server does), collecting their paths. */
export function pruneUnknown(value: unknown, schema: Schema, path: string, unknown: string[], root = false): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, index) => pruneUnknown(item, schema.items!, `${path}[${index}]`, unknown));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return;
  const additional = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const key of Object.keys(value)) {
    const child = `${path ? `${path}.` : ''}${key}`;
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    if (schema['x-kubernetes-embedded-resource'] && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const sub = schema.properties?.[key] ?? additional;
    if (sub) pruneUnknown(value[key], sub, child, unknown);
    else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true) {
      unknown.push(child);
      delete value[key];
    }
  }
}

function withoutMetadata(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = { ...(schema.properties as Record<string, unknown> | undefined) };
  delete properties.metadata;
  const required = Array.isArray(schema.required) ? (schema.required as string[]).filter((key) => key !== 'metadata') : undefined;
  return { ...schema, properties, ...(required ? { required } : {}) };
}

function toCause(error: ErrorObject): StatusCause {
  const field = error.instancePath.split('/').filter(Boolean).map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : `${i ? '.' : ''}${part}`)).join('');
  if (error.keyword === 'required') {
    const missing = `${field ? `${field}.` : ''}${String((error.params as { missingProperty?: string }).missingProperty)}`;
    return { type: 'FieldValueRequired', field: missing, message: 'Required value' };
  }
  return { type: 'FieldValueInvalid', field, message: `Invalid value: ${describeValue(error.data)}: ${field} in body ${(error.message ?? 'is invalid').replace(/^must be (?=array|object|string|integer|number|boolean)/, 'must be of type ')}` };
}

function describeValue(data: unknown): string {
  if (Array.isArray(data)) return '"array"';
  if (isPlainObject(data)) return '"object"';
  return JSON.stringify(typeof data === 'string' ? 'string' : typeof data);
}
