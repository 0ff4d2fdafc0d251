import { existsSync } from 'node:fs';
import type { z } from 'zod';
import { FerryError } from '../util/errors.js';
import { parseYamlDocuments, type SourceDocument } from '../util/yaml-source.js';
import { readUtf8File } from '../util/text-file.js';
import { migrationPlanSchema, type MigrationPlan } from './schema.js';

export interface LoadedPlan {
  plan: MigrationPlan;
  file: string;
  /** file:line:column of a field path in the plan, for messages about meaning. */
  positionOf: SourceDocument['positionOf'];
}

/** Reads and schema-checks a plan; errors name file:line:column and the field. */
export function loadPlan(file: string): LoadedPlan {
  if (!existsSync(file)) {
    throw new FerryError('plan', 'plan file does not exist', { location: { file }, fix: 'write one with `ferry plan ... > plan.yaml`' });
  }
  return parsePlan(readUtf8File(file, 'plan file'), file);
}

export function parsePlan(text: string, file: string): LoadedPlan {
  const documents = parseYamlDocuments(text, file);
  if (documents.length !== 1) {
    throw new FerryError('plan', documents.length === 0 ? 'the plan file is empty' : 'a plan file holds exactly one YAML document', {
      location: { file, line: 1, column: 1 },
      fix: 'keep one MigrationPlan per file',
    });
  }
  const document = documents[0]!;
  const result = migrationPlanSchema.safeParse(document.value, { reportInput: true });
  if (!result.success) throw schemaError(result.error, document);
  return { plan: result.data, file, positionOf: document.positionOf };
}

function schemaError(error: z.ZodError, document: SourceDocument): FerryError {
  const [first, ...rest] = error.issues;
  const path = (first?.path ?? []).filter((key): key is string | number => typeof key !== 'symbol');
  const { line, column } = document.positionOf(path);
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  return new FerryError('plan-schema', `${describeIssue(first)}${more}`, {
    location: { file: document.file, line, column, field: formatPath(path) || '(document)' },
    fix: 'correct the field; `ferry schema` prints the JSON Schema editors can check plans with',
  });
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid plan';
  if (issue.code === 'invalid_type') return `expected ${issue.expected}, got ${receivedType(issue)}`;
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
  return issue.message;
}

function receivedType(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return 'nothing (the field is missing)';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  // Short values help the reader; long strings may be connection strings, so only their type is named.
  return typeof input === 'string' && input.length > 24 ? 'a string' : `${typeof input} ${JSON.stringify(input)}`;
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${key}` : key), '');
}
