import { reportBlocks } from './document.js';
import type { RunReport } from './model.js';

/** The report as Markdown (GitHub's tables), for a pull request or an incident document. */
export function renderReportMarkdown(report: RunReport): string {
  const out: string[] = [];
  for (const block of reportBlocks(report)) {
    switch (block.kind) {
      case 'heading': out.push(`${'#'.repeat(block.level)} ${inline(block.text)}`, ''); break;
      case 'text': out.push(inline(block.text), ''); break;
      case 'alert': out.push(`> **${inline(block.text)}**`, ''); break;
      case 'table':
        out.push(`| ${block.headers.map(cell).join(' | ')} |`, `|${block.headers.map(() => '---').join('|')}|`, ...block.rows.map((row) => `| ${row.map(cell).join(' | ')} |`), '');
        break;
      // Plots are the HTML report's; the Markdown lists the same numbers in its tables and lines.
      case 'charts': break;
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** Text from the journal kept as text: no stray emphasis, HTML or line breaks. */
function inline(text: string): string {
  return text.replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;')).replace(/\r?\n/g, ' ');
}

function cell(text: string): string {
  return inline(text).replace(/\|/g, '\\|') || ' ';
}
