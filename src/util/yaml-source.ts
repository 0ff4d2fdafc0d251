import { LineCounter, parseAllDocuments, isMap, isSeq, visit, type Document, type Node } from 'yaml';
import * as jsYaml from 'js-yaml';
import { FerryError } from './errors.js';

/**
 * YAML documents that remember where each value came from, so errors can name
 * file:line:column for any field path.
 */
export interface SourceDocument {
  file: string;
  /** Zero-based index of the document in a multi-document stream. */
  index: number;
  value: unknown;
  /** Position of the value at a path, e.g. ['spec', 'waves', 0, 'name']. */
  positionOf(path: ReadonlyArray<string | number>): { line: number; column: number };
}

/**
 * Parses a multi-document YAML stream. Values come from js-yaml (about 5× faster than the
 * `yaml` package on large exports); positions come from `yaml`'s CST, built only when an
 * error needs one, so the common path stays fast.
 */
export function parseYamlDocuments(text: string, file: string): SourceDocument[] {
  let values: unknown[];
  // js-yaml 4.3 takes maxDepth; @types/js-yaml does not list it yet.
  const options: jsYaml.LoadOptions & { maxDepth: number } = { schema: jsYaml.CORE_SCHEMA, filename: file, maxDepth: MAX_YAML_DEPTH };
  try {
    values = jsYaml.loadAll(text, undefined, options) as unknown[];
  } catch (error) {
    if (!(error instanceof jsYaml.YAMLException)) throw error;
    const deep = /maxDepth/.test(error.reason);
    throw new FerryError('yaml', deep ? `invalid YAML: nested more than ${MAX_YAML_DEPTH} levels deep` : `invalid YAML: ${error.reason}`, {
      location: { file, line: error.mark.line + 1, column: error.mark.column + 1 },
      fix: deep ? 'flatten the document; no Kubernetes object or plan needs that depth' : 'correct the YAML syntax at that position',
    });
  }
  let positions: { documents: Document[]; lineCounter: LineCounter } | undefined;
  const locate = () => {
    if (!positions) {
      const lineCounter = new LineCounter();
      const parsed = parseAllDocuments(text, { lineCounter });
      positions = { documents: Array.isArray(parsed) ? parsed : [], lineCounter };
    }
    return positions;
  };
  const result: SourceDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return; // empty document between `---` separators
    checkAliasExpansion(value, () => firstAlias(locate().documents[index], locate().lineCounter), file);
    result.push({
      file,
      index,
      value,
      positionOf: (path) => {
        const { documents, lineCounter } = locate();
        const document = documents[index];
        return document ? positionIn(document, path, lineCounter) : { line: 1, column: 1 };
      },
    });
  });
  return result;
}

function positionIn(document: Document, path: ReadonlyArray<string | number>, lineCounter: LineCounter) {
  // Walk as deep as the path exists; a missing field is reported at its parent.
  let node: Node | null | undefined = document.contents as Node | null;
  let best = node?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      best = (pair.key as Node).range?.[0] ?? best;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as Node | undefined;
      if (!node) break;
      best = node.range?.[0] ?? best;
    } else break;
  }
  const { line, col } = lineCounter.linePos(best);
  return { line, column: col };
}

/** Nesting js-yaml accepts (its default, made explicit): Kubernetes objects and plans stay far below it. */
export const MAX_YAML_DEPTH = 100;
/** Values aliases may add beyond what a document spells out (or as many as it spells out, if more). */
export const MAX_ALIAS_GROWTH = 100_000;

/**
 * Bounds what aliases expand to. js-yaml resolves an alias to the same object rather than a
 * copy, so an alias bomb (`b: [*a, *a, ...]`, nine levels deep) parses instantly; it explodes
 * later, in whatever serialises the value (the run's copy of the plan, a JSON body), after
 * minutes of CPU. js-yaml has no alias limit (the `yaml` package's `maxAliasCount` only
 * applies to its own toJS), so the expanded size and depth are measured here, once per shared
 * value, and a recursive alias is refused.
 */
function checkAliasExpansion(value: unknown, aliasAt: () => { line: number; column: number } | undefined, file: string): void {
  const measured = measureExpansion(value);
  const problem = measured === 'cycle'
    ? 'an alias refers to a value that contains it (a value that contains itself)'
    : measured.depth > 2 * MAX_YAML_DEPTH
      ? `aliases nest values more than ${2 * MAX_YAML_DEPTH} levels deep`
      : measured.size > measured.spelled + Math.max(MAX_ALIAS_GROWTH, measured.spelled)
        ? `aliases expand the document to ${measured.size >= 1e9 ? 'over a billion' : measured.size.toLocaleString('en-US')} values, from ${measured.spelled.toLocaleString('en-US')} written (an alias bomb?)`
        : undefined;
  if (!problem) return;
  const where = aliasAt();
  throw new FerryError('yaml', `YAML aliases refused: ${problem}`, {
    location: { file, ...(where ? { line: where.line, column: where.column } : {}) },
    fix: 'write the repeated content out, or reuse anchors less (each alias stands for a whole copy of its anchor)',
  });
}

/** Expanded size and depth of a parsed value whose objects may be shared; iterative, so depth cannot overflow the stack. */
export function measureExpansion(root: unknown): { size: number; depth: number; spelled: number } | 'cycle' {
  if (typeof root !== 'object' || root === null) return { size: 1, depth: 0, spelled: 1 };
  const done = new Map<object, { size: number; depth: number }>();
  const open = new Set<object>();
  let spelled = 1;
  const childrenOf = (node: object): unknown[] => (Array.isArray(node) ? node : Object.values(node));
  const stack: Array<{ node: object; children: unknown[]; next: number; size: number; depth: number }> = [];
  const enter = (node: object) => {
    const children = childrenOf(node);
    spelled += children.length;
    open.add(node);
    stack.push({ node, children, next: 0, size: 1, depth: 1 });
  };
  enter(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next < frame.children.length) {
      const child = frame.children[frame.next++];
      if (typeof child !== 'object' || child === null) {
        frame.size += 1;
        continue;
      }
      const known = done.get(child);
      if (known) {
        frame.size += known.size;
        frame.depth = Math.max(frame.depth, known.depth + 1);
      } else if (open.has(child)) return 'cycle';
      else enter(child);
      continue;
    }
    stack.pop();
    open.delete(frame.node);
    done.set(frame.node, { size: frame.size, depth: frame.depth });
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.size += frame.size;
      parent.depth = Math.max(parent.depth, frame.depth + 1);
    }
  }
  const top = done.get(root)!;
  return { size: top.size, depth: top.depth, spelled };
}

function firstAlias(document: Document | undefined, lineCounter: LineCounter): { line: number; column: number } | undefined {
  let offset: number | undefined;
  if (document) {
    visit(document, {
      Alias(_key, node) {
        offset = node.range?.[0];
        return visit.BREAK;
      },
    });
  }
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
