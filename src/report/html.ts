import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { reportBlocks } from './document.js';
import type { RunReport } from './model.js';

/**
 * The report as ONE self-contained HTML file: uPlot's script and styles inlined from the
 * package, the report embedded as JSON, the plots drawn from it in the browser. A Content
 * Security Policy forbids any fetch, so it opens the same from a laptop, a ticket attachment
 * or an air-gapped machine.
 */
export function renderReportHtml(report: RunReport): string {
  const { script, css } = assets();
  const body = reportBlocks(report).map((block) => {
    switch (block.kind) {
      case 'heading': return `<h${block.level}>${escapeHtml(block.text)}</h${block.level}>`;
      case 'text': return `<p>${escapeHtml(block.text)}</p>`;
      case 'alert': return `<p class="alert" role="alert">${escapeHtml(block.text)}</p>`;
      case 'table':
        return `<table><thead><tr>${block.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${block.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
      case 'charts':
        return `<div class="charts" data-slice="${escapeHtml(block.slice)}"></div>${report.scorecard.failures.some((f) => f.slice === block.slice) ? '<p class="legend">Rollbacks: <span class="onset">onset</span> (dashed), <span class="detected">detection</span>, <span class="zero">weight read back at 0</span> (dotted).</p>' : ''}`;
    }
  }).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(`Ferry run report: ${report.run.id}`)}</title>
<style>${inlineSafe(css, 'style')}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="ferry-report-data">${jsonForScript(report)}</script>
<script>${inlineSafe(script.uplot, 'script')}</script>
<script>${inlineSafe(script.charts, 'script')}</script>
</body>
</html>
`;
}

let cached: { script: { uplot: string; charts: string }; css: string } | undefined;

function assets(): NonNullable<typeof cached> {
  if (cached) return cached;
  // uPlot is a dependency: its browser build is read from the package, not fetched from a CDN.
  const dist = dirname(createRequire(import.meta.url).resolve('uplot'));
  cached = {
    script: {
      uplot: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'),
      charts: readFileSync(new URL('./assets/report-charts.js', import.meta.url), 'utf8'),
    },
    css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8'),
  };
  return cached;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside a script element: `<` escaped, so no text from the journal can close the element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Inlined code cannot end its own element early. */
function inlineSafe(code: string, element: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; background: #fff; margin: 0; }
main { max-width: 1140px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
h4 { font-size: 14px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td { overflow-wrap: anywhere; }
.alert { background: #fef2f2; border: 1px solid #dc2626; color: #991b1b; padding: 8px 12px; font-weight: 600; }
.charts { display: flex; flex-direction: column; gap: 8px; }
.chart { border: 1px solid #f3f4f6; padding: 4px; }
.legend { font-size: 12px; color: #4b5563; }
.legend .onset { color: #ea580c; } .legend .detected { color: #dc2626; } .legend .zero { color: #16a34a; }
@media print { .chart { break-inside: avoid; } }
`;
