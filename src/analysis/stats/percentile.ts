/**
 * Nearest-rank quantile (q in 0–100) of ascending values: the ⌈q·n/100⌉-th smallest (at least
 * the first). The judge's latency gates read this one, so every p99 Ferry shows is the judge's.
 * NaN for none.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((q / 100) * sorted.length))) - 1]!;
}

/** The same quantile (p in 0–100) of unsorted values; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  return quantileSorted(Float64Array.from(values).sort(), p);
}
