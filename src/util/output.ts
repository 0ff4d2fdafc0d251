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
    Math.max(header.length, ...cells.map((row) => visibleLength(row[i] ?? ''))),
  );
  const pad = (cell: string, width: number) => cell + ' '.repeat(Math.max(0, width - visibleLength(cell)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join('  ').trimEnd();
  const head = color().bold(line(headers));
  return [head, ...cells.map(line)].join('\n') + '\n';
}

/** Length as shown on a terminal: colour escape sequences take no room. */
function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}
