/**
 * What every benchmark prints: a figure measured in this run, beside its target or the
 * reference measured in the same run, and their ratio. Benchmarks never fail the test
 * suite; they are read by people.
 */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** A target (`target`) or a figure of a reference tool measured in the same run (`reference`). */
  compare?: { kind: 'target' | 'reference'; label: string; value: number; lowerIsBetter: boolean };
  /** The figure an earlier session recorded for the same measurement (another day: a guide to regressions, not a same-run ratio). */
  previous?: { label: string; value: number };
}

const rows: BenchRow[] = [];

export function report(row: BenchRow): void {
  rows.push(row);
  const value = formatNumber(row.value);
  let line = `  ${row.name.padEnd(52)} ${value.padStart(12)} ${row.unit}`;
  if (row.compare) {
    const { kind, label, value: other, lowerIsBetter } = row.compare;
    const ratio = other === 0 ? Number.NaN : row.value / other;
    const ok = lowerIsBetter ? row.value <= other : row.value >= other;
    const verdict = kind === 'target' ? (ok ? 'meets target' : 'MISSES target') : '';
    line += `   ${kind} ${label}: ${formatNumber(other)} ${row.unit}  ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} ${verdict}`;
  }
  if (row.previous) line += `   previous (${row.previous.label}): ${formatNumber(row.previous.value)} ${row.unit}`;
  process.stdout.write(`${line}\n`);
}

export function section(title: string): void {
  process.stdout.write(`\n${title}\n`);
}

export function allRows(): readonly BenchRow[] {
  return rows;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** Peak resident memory of this process so far, in MB (Linux VmHWM). */
export async function peakRssMb(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile('/proc/self/status', 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : process.memoryUsage().rss / 1024 / 1024;
}
