/**
 * Samples of Prometheus' text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for
 * telemetry read straight from an exporter (the lab's service network, the router's admin
 * API) with no Prometheus in between. Hand-written because prom-client only writes the
 * format and no parser is among our dependencies; counters need only the sample lines:
 * `name{label="value",…} value [timestamp]`, label values with `\\`, `\"` and `\n` escapes.
 */
export interface TextSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string, wanted?: ReadonlySet<string>): TextSample[] {
  const samples: TextSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (wanted && !wanted.has(name)) continue;
    const labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest);
      if (!parsed) continue;
      Object.assign(labels, parsed.labels);
      rest = rest.slice(parsed.end);
    }
    const [valueText] = rest.trim().split(/\s+/);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (valueText === undefined || Number.isNaN(value)) continue;
    samples.push({ name, labels, value });
  }
  return samples;
}

/** `{a="x",b="y"}` from the start of `text`: the labels and where the closing brace ends. */
function parseLabels(text: string): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') return undefined;
    const key = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : (next ?? '');
      } else value += text[j];
    }
    if (j >= text.length) return undefined;
    labels[key] = value;
    i = j + 1;
  }
}
