import type { MeanOf, ParitySummary, ReportSample, Scorecard, SliceReport, TargetShare } from './model.js';

// The scorecard's numbers, from the slices' timelines and the checks the journal holds; what
// each means is in the report's definitions (build.ts).

export function failedRequests(slices: SliceReport[]): Scorecard['failedRequests'] {
  const samples = slices.flatMap((slice) => slice.samples);
  if (samples.length === 0) return null;
  const sum = (pick: (s: ReportSample) => number) => samples.reduce((n, s) => n + pick(s), 0);
  return {
    target: sum((s) => s.target.errors), source: sum((s) => s.source.errors),
    requests: { target: sum((s) => s.target.requests), source: sum((s) => s.source.requests) },
    samples: samples.length,
  };
}

export function meanOf(values: number[]): MeanOf | null {
  if (values.length === 0) return null;
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values), count: values.length };
}

/** The weight in force at `time` from a weight timeline (0 before its first record). */
function weightAt(weights: ReadonlyArray<{ at: number; weight: number }>, time: number): number {
  let weight = 0;
  for (const point of weights) {
    if (point.at > time) break;
    weight = point.weight;
  }
  return weight;
}

/** Time-weighted mean of a step function over [start, end], 0–1 (weights are percent). */
function timeWeightedShare(weights: ReadonlyArray<{ at: number; weight: number }>, start: number, end: number): number {
  if (end <= start) return weightAt(weights, start) / 100;
  let area = 0;
  let from = start;
  let weight = weightAt(weights, start);
  for (const point of weights) {
    if (point.at <= start) continue;
    if (point.at >= end) break;
    area += weight * (point.at - from);
    from = point.at;
    weight = point.weight;
  }
  area += weight * (end - from);
  return area / (end - start) / 100;
}

export function targetShare(slices: SliceReport[], finished: boolean, lastRecordAt: number | undefined): TargetShare | null {
  const rows: TargetShare['slices'] = [];
  let targetRequests = 0;
  let allRequests = 0;
  for (const slice of slices) {
    const first = slice.weights[0];
    if (!slice.planned.traffic || !first || slice.planned.steps.length === 0) continue;
    const windowStart = first.at;
    const plannedMs = slice.planned.steps.length * slice.planned.stepWindowMs;
    const windowEnd = windowStart + plannedMs;
    // An unfinished run is reported up to its last record: what comes later has not happened.
    const complete = finished || (lastRecordAt !== undefined && lastRecordAt >= windowEnd);
    const until = complete ? windowEnd : Math.max(windowStart, lastRecordAt ?? windowStart);
    const plan = slice.planned.steps.map((weight, i) => ({ at: windowStart + i * slice.planned.stepWindowMs, weight }));
    const inWindow = slice.samples.filter((s) => s.to > windowStart && s.to <= until);
    const requests = inWindow.reduce((n, s) => n + s.target.requests + s.source.requests, 0);
    const onTarget = inWindow.reduce((n, s) => n + s.target.requests, 0);
    targetRequests += onTarget;
    allRequests += requests;
    const fullAt = slice.weights.find((w) => w.weight >= 100)?.at;
    rows.push({
      slice: slice.name, windowStart, windowEnd, plannedMs, complete,
      plannedShare: timeWeightedShare(plan, windowStart, until),
      weightShare: timeWeightedShare(slice.weights, windowStart, until),
      ...(requests > 0 ? { requestShare: onTarget / requests } : {}),
      weightAtWindowEnd: weightAt(slice.weights, until),
      ...(fullAt !== undefined ? { fullAt } : {}),
      fullInWindow: fullAt !== undefined && fullAt <= windowEnd,
    });
  }
  if (rows.length === 0) return null;
  const totalMs = rows.reduce((n, r) => n + r.plannedMs, 0) || 1;
  return {
    slices: rows,
    overall: {
      plannedShare: rows.reduce((n, r) => n + r.plannedShare * r.plannedMs, 0) / totalMs,
      weightShare: rows.reduce((n, r) => n + r.weightShare * r.plannedMs, 0) / totalMs,
      ...(allRequests > 0 ? { requestShare: targetRequests / allRequests } : {}),
      fullInWindow: rows.filter((r) => r.fullInWindow).length,
      slices: rows.length,
    },
  };
}

export function paritySummary(checks: ParitySummary['checks']): ParitySummary {
  let found = 0;
  let repaired = 0;
  let outstanding = 0;
  const slices = [...new Set(checks.map((c) => c.slice))];
  for (const slice of slices) {
    const own = checks.filter((c) => c.slice === slice);
    let unresolved = 0;
    for (const check of own) {
      const transient = check.transientDifferences ?? 0;
      found += (check.differences ?? 0) + transient;
      repaired += transient;
      if (check.ok) {
        repaired += unresolved;
        unresolved = 0;
      } else unresolved += check.differences ?? 0;
    }
    const last = own.at(-1)!;
    if (!last.ok) outstanding += last.differences ?? 0;
  }
  return { checks, found, repaired, outstanding };
}

export function stageDurations(slices: SliceReport[]): Scorecard['stageDurations'] {
  const byStage = new Map<string, number[]>();
  for (const run of slices.flatMap((slice) => slice.stages)) {
    if (run.result === 'skipped' || run.durationMs === undefined) continue;
    byStage.set(run.stage, [...(byStage.get(run.stage) ?? []), run.durationMs]);
  }
  return [...byStage].map(([stage, durations]) => {
    const totalMs = durations.reduce((a, b) => a + b, 0);
    return { stage, attempts: durations.length, totalMs, maxMs: Math.max(...durations), meanMs: totalMs / durations.length };
  });
}
