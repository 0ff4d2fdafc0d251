/**
 * A unified diff of two texts (as `diff -u` and `kubectl diff` print it), pure. Common
 * leading and trailing lines are trimmed before the longest-common-subsequence table, so
 * the table covers only the changed middle of a manifest.
 */
export interface UnifiedDiffOptions {
  context?: number;
  beforeLabel?: string;
  afterLabel?: string;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Largest middle (lines × lines) compared exactly; beyond it the middle is shown replaced whole. */
const MAX_TABLE = 4_000_000;

export function unifiedDiff(before: string, after: string, options: UnifiedDiffOptions = {}): string {
  const context = options.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = lineOps(a, b);
  if (!ops.some((op) => op.kind !== ' ')) return '';
  const out = [`--- ${options.beforeLabel ?? 'before'}`, `+++ ${options.afterLabel ?? 'after'}`];
  // Positions (1-based) in each text for every op, for hunk headers.
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      continue;
    }
    let start = Math.max(0, i - context);
    while (start > 0 && ops[start - 1]!.kind !== ' ') start--;
    let end = i;
    // Extend the hunk while the next change is within 2 × context unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end]!.kind !== ' ') end++;
      let gap = 0;
      while (end + gap < ops.length && ops[end + gap]!.kind === ' ') gap++;
      if (end + gap < ops.length && gap <= 2 * context) end += gap;
      else {
        end = Math.min(ops.length, end + context);
        break;
      }
    }
    const [aStart, bStart] = positions(ops, start);
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((op) => op.kind !== '+').length;
    const bCount = hunk.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${aCount === 0 ? aStart - 1 : aStart},${aCount} +${bCount === 0 ? bStart - 1 : bStart},${bCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    i = end;
  }
  return `${out.join('\n')}\n`;
}

function positions(ops: readonly Op[], index: number): [number, number] {
  let a = 1;
  let b = 1;
  for (let k = 0; k < index; k++) {
    if (ops[k]!.kind !== '+') a++;
    if (ops[k]!.kind !== '-') b++;
  }
  return [a, b];
}

function lineOps(a: readonly string[], b: readonly string[]): Op[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const midA = a.slice(prefix, a.length - suffix);
  const midB = b.slice(prefix, b.length - suffix);
  const same = (lines: readonly string[]) => lines.map((line): Op => ({ kind: ' ', line }));
  return [...same(a.slice(0, prefix)), ...middleOps(midA, midB), ...same(a.slice(a.length - suffix))];
}

function middleOps(a: readonly string[], b: readonly string[]): Op[] {
  if (a.length * b.length > MAX_TABLE || a.length === 0 || b.length === 0) {
    return [...a.map((line): Op => ({ kind: '-', line })), ...b.map((line): Op => ({ kind: '+', line }))];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..], in one flat array.
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) ops.push({ kind: '-', line: a[i++]! });
    else ops.push({ kind: '+', line: b[j++]! });
  }
  while (i < a.length) ops.push({ kind: '-', line: a[i++]! });
  while (j < b.length) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  return text.replace(/\n$/, '').split('\n');
}
