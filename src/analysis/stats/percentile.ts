/** Nearest-rank percentile of a sample (q in (0, 100]); NaN for an empty sample. */
export function percentile(sample: ArrayLike<number>, q: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = Float64Array.from(sample).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((q / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** How many observations exceed `bound`. */
export function countAbove(sample: ArrayLike<number>, bound: number): number {
  let count = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i]! > bound) count++;
  return count;
}
