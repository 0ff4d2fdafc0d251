import * as jsYaml from 'js-yaml';
import { color } from './color.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** YAML for people and git: keys in insertion order, no line folding, no anchors. */
export function toYamlText(value: unknown): string {
  return jsYaml.dump(value, { schema: jsYaml.CORE_SCHEMA, lineWidth: -1, noRefs: true, sortKeys: false });
}

/** Renders rows as an aligned plain-text table; the header is bold when colour is on. */
export function renderTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  const line = (row: string[]) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const head = color().bold(line(headers));
  return [head, ...cells.map(line)].join('\n') + '\n';
}
