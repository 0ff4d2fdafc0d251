import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
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

export function parseYamlDocuments(text: string, file: string): SourceDocument[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(documents)) {
    // parseAllDocuments returns an EmptyStream for input with no documents.
    return [];
  }
  const result: SourceDocument[] = [];
  documents.forEach((document, index) => {
    const problem = document.errors[0];
    if (problem) {
      const { line, col } = lineCounter.linePos(problem.pos[0]);
      throw new FerryError('yaml', `invalid YAML: ${firstLine(problem.message)}`, {
        location: { file, line, column: col },
        fix: 'correct the YAML syntax at that position',
      });
    }
    if (document.contents === null) return; // empty document between `---` separators
    result.push({
      file,
      index,
      value: document.toJS({ maxAliasCount: 100 }),
      positionOf: (path) => positionIn(document, path, lineCounter),
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

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
