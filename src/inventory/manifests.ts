import { readdirSync, realpathSync, statSync, existsSync } from 'node:fs';
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
  const files = isDirectory(path) ? listManifestFiles(path) : [path];
  return files.flatMap((file) => readManifestFile(file));
}

function listManifestFiles(dir: string, seen = new Set<string>()): string[] {
  const real = realpathSync(dir);
  if (seen.has(real)) {
    throw new FerryError('manifests', `a folder reached twice through symbolic links among the manifests (this is ${real} again)`, { location: { file: dir }, fix: 'remove the link (it loops or repeats), or point --manifests at a folder without it' });
  }
  seen.add(real);
  const files: string[] = [];
  for (const name of listDirectory(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (isDirectory(path)) files.push(...listManifestFiles(path, seen));
    else if (MANIFEST_EXTENSIONS.has(extname(name))) files.push(path);
  }
  return files;
}

// A broken symlink, a symlink loop (ELOOP) or an unreadable folder is named, not thrown as Node's own error.
function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (error) {
    throw unreadable(dir, error);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    throw unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): FerryError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const why = code === 'ENOENT' ? 'a broken symbolic link' : code === 'ELOOP' ? 'a symbolic link loop' : code === 'EACCES' ? 'permission denied' : `cannot be read (${code})`;
  return new FerryError('manifests', `${why} among the manifests`, { location: { file: path }, fix: 'remove or fix it, or point --manifests at a folder without it', cause: error });
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
