import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { FerryError } from '../util/errors.js';
import { parseYamlDocuments } from '../util/yaml-source.js';
import { readUtf8File } from '../util/text-file.js';
import { isKubeObject, type KubeObject } from '../kube/object.js';
import { assertObjectShape } from './shape.js';

export interface SourcedObject {
  object: KubeObject;
  /** Where the object was read from, for error messages; the line is found only when asked. */
  source: ObjectSource;
}

export interface ObjectSource {
  file: string;
  readonly line: number;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads Kubernetes objects from a file or a directory (recursively, sorted by path):
 * multi-document YAML, `kind: List` as `kubectl get -o yaml` prints it, JSON, and
 * Helm-rendered output (`# Source:` comments and empty documents are fine).
 */
export function readManifests(path: string): SourcedObject[] {
  if (!existsSync(path)) {
    throw new FerryError('manifests', 'no such file or directory', {
      location: { file: path },
      fix: 'pass an existing YAML file or directory to --manifests',
    });
  }
  const files = statSync(path).isDirectory() ? listManifestFiles(path) : [path];
  return files.flatMap((file) => readManifestFile(file));
}

function listManifestFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...listManifestFiles(path));
    else if (MANIFEST_EXTENSIONS.has(extname(name))) files.push(path);
  }
  return files;
}

function readManifestFile(file: string): SourcedObject[] {
  const documents = parseYamlDocuments(readUtf8File(file, 'manifest file'), file);
  const objects: SourcedObject[] = [];
  for (const document of documents) {
    const value = document.value;
    if (value === null || value === undefined) continue;
    const items = isList(value) ? value.items.map((item, i) => ({ item, path: ['items', i] })) : [{ item: value, path: [] }];
    for (const { item, path } of items) {
      if (!isKubeObject(item)) {
        const where = document.positionOf(path);
        throw new FerryError('manifests', 'not a Kubernetes object: apiVersion, kind and metadata.name are required', {
          location: { file, line: where.line, column: where.column, field: missingField(item) },
          fix: 'remove the document or give it apiVersion, kind and metadata.name',
        });
      }
      assertObjectShape(item, { file, positionOf: (field) => document.positionOf([...path, ...field]) });
      objects.push({ object: item, source: { file, get line() { return document.positionOf(path).line; } } });
    }
  }
  return objects;
}

function isList(value: unknown): value is { items: unknown[] } {
  const candidate = value as { kind?: unknown; items?: unknown };
  return typeof candidate === 'object' && typeof candidate.kind === 'string' && candidate.kind.endsWith('List') && Array.isArray(candidate.items);
}

function missingField(value: unknown): string {
  const candidate = (value ?? {}) as Record<string, unknown>;
  if (typeof candidate.apiVersion !== 'string') return 'apiVersion';
  if (typeof candidate.kind !== 'string') return 'kind';
  return 'metadata.name';
}
