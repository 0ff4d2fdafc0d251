import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
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
  try {
    values = jsYaml.loadAll(text, undefined, { schema: jsYaml.CORE_SCHEMA, filename: file }) as unknown[];
  } catch (error) {
    if (!(error instanceof jsYaml.YAMLException)) throw error;
    throw new FerryError('yaml', `invalid YAML: ${error.reason}`, {
      location: { file, line: error.mark.line + 1, column: error.mark.column + 1 },
      fix: 'correct the YAML syntax at that position',
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
