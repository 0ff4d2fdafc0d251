// What the run view shows, derived from the journal records the server streams (the run's
// state itself comes derived by the server, as `ferry status` derives it).

export const STAGES = ['apply', 'data-sync', 'parity', 'shadow', 'ramp', 'data-cutover', 'soak', 'decommission'];

const ms = (iso) => Date.parse(iso);

/** Per slice and stage: when it started and ended (the last attempt), and what it returned. */
export function stageTimings(records) {
  const timings = new Map();
  const key = (slice, stage) => `${slice}\u0000${stage}`;
  for (const record of records) {
    const { slice, stage } = record.data ?? {};
    if (typeof slice !== 'string' || typeof stage !== 'string') continue;
    if (record.type === 'stage-started') timings.set(key(slice, stage), { startedAt: ms(record.at) });
    else if (['stage-completed', 'stage-failed', 'stage-skipped', 'stage-interrupted'].includes(record.type)) {
      const timing = timings.get(key(slice, stage)) ?? {};
      timings.set(key(slice, stage), { ...timing, endedAt: ms(record.at), result: record.data });
    }
  }
  return (slice, stage) => timings.get(key(slice, stage));
}

/** Weight of each slice over time: [{ slice, at (s), weight }] from weight-set and rollbacks. */
export function weightSteps(records) {
  const steps = [];
  for (const record of records) {
    const slice = record.data?.slice;
    if (typeof slice !== 'string') continue;
    if (record.type === 'weight-set') steps.push({ slice, at: ms(record.at) / 1000, weight: Number(record.data.weight) });
    else if (record.type === 'rolled-back' || record.type === 'rollback-slice') steps.push({ slice, at: ms(record.at) / 1000, weight: 0 });
  }
  return steps;
}

/** The ramp-sample records of one slice, as chart rows. */
export function samplesOf(records, slice) {
  const rows = [];
  for (const record of records) {
    if (record.type !== 'ramp-sample' || record.data?.slice !== slice) continue;
    const d = record.data;
    const seconds = Math.max((ms(d.to) - ms(d.from)) / 1000, 0.001);
    const side = (s) => ({
      rps: s ? s.requests / seconds : null,
      errorRate: s && s.requests > 0 ? s.errors / s.requests : null,
      p99: s?.p99Ms ?? null,
    });
    rows.push({ at: ms(d.to) / 1000, weight: d.weight, target: side(d.target), source: side(d.source), lagMs: d.replicationLagMs ?? null });
  }
  return rows;
}

export function slicesWithSamples(records) {
  return [...new Set(records.filter((r) => r.type === 'ramp-sample').map((r) => r.data.slice))];
}

/** Shadow results per slice: the stage's comparison (with sample diffs when it kept them) and its running counts while the window lasts (shadow-sample). */
export function shadowResults(records) {
  const bySlice = new Map();
  const get = (slice) => bySlice.get(slice) ?? bySlice.set(slice, { slice }).get(slice);
  for (const record of records) {
    const d = record.data ?? {};
    if (typeof d.slice !== 'string') continue;
    if (d.stage === 'shadow' && record.type === 'stage-completed') Object.assign(get(d.slice), { compared: d.compared, mismatched: d.mismatched, mismatchRate: d.mismatchRate, inconclusive: d.inconclusive, samples: d.samples ?? [], at: record.at });
    if (d.stage === 'shadow' && record.type === 'stage-failed') Object.assign(get(d.slice), { error: d.error, at: record.at });
    if (record.type === 'shadow-extended') Object.assign(get(d.slice), { extensions: d.extension });
    // The running comparison while the shadow window lasts (superseded by the stage's result).
    if (record.type === 'shadow-sample') {
      const entry = get(d.slice);
      entry.live = { compared: d.compared, mismatched: d.mismatched, at: record.at };
      if (Array.isArray(d.samples) && d.samples.length) entry.liveSamples = d.samples;
    }
  }
  return [...bySlice.values()];
}

/** Data results per slice: replication lag at sync, parity checks, the cutover's write pause. */
export function dataResults(records) {
  const bySlice = new Map();
  const get = (slice) => bySlice.get(slice) ?? bySlice.set(slice, { slice }).get(slice);
  for (const record of records) {
    const d = record.data ?? {};
    if (typeof d.slice !== 'string') continue;
    if (d.stage === 'data-sync' && record.type === 'stage-completed') Object.assign(get(d.slice), { syncLagSeconds: d.lagSeconds, tables: d.tables });
    if (d.stage === 'parity' && record.type === 'stage-completed') Object.assign(get(d.slice), { parity: { ok: true, rows: d.rows, rowsPerSecond: d.rowsPerSecond, differences: d.differences, transient: d.transientDifferences, at: record.at } });
    if (d.stage === 'parity' && record.type === 'stage-failed') Object.assign(get(d.slice), { parity: { ok: false, error: d.error, at: record.at } });
    if (d.stage === 'data-cutover' && record.type === 'stage-completed') Object.assign(get(d.slice), { cutover: { writePauseMs: d.writePauseMs, maxWritePauseMs: d.maxWritePauseMs } });
    if (d.stage === 'data-cutover' && record.type === 'stage-failed') Object.assign(get(d.slice), { cutover: { error: d.error } });
    if ((record.type === 'ramp-sample' || record.type === 'lag-sample') && typeof d.replicationLagMs === 'number') get(d.slice).lagMs = d.replicationLagMs;
    if (record.type === 'lag-sample') Object.assign(get(d.slice), { tablesReady: d.tablesReady, tables: d.tables });
  }
  return [...bySlice.values()];
}

/** Bridges now in place (created and not removed), from the journal. */
export function bridges(records) {
  const live = new Map();
  const events = [];
  for (const record of records) {
    const d = record.data ?? {};
    if (record.type === 'bridge-created') live.set(d.key, { key: d.key, callee: d.callee, callers: d.callers, provider: d.record?.provider, at: record.at });
    if (record.type === 'bridge-removed') live.delete(d.key);
    if (record.type.startsWith('bridge-')) events.push(record);
  }
  return { live: [...live.values()], events };
}

/** The wave being moved: the first with a slice not yet finished (or the last). */
export function currentWave(state) {
  const waves = new Map();
  for (const slice of state.slices) waves.set(slice.wave, [...(waves.get(slice.wave) ?? []), slice]);
  const finished = (slice) => slice.rolledBack || STAGES.every((stage) => ['done', 'skipped'].includes(slice.stages[stage]));
  for (const [wave, slices] of [...waves.entries()].sort((a, b) => a[0] - b[0])) if (!slices.every(finished)) return wave;
  return Math.max(1, ...waves.keys());
}

/** Who did what: records a person caused, and the run's control events. */
const CONTROL = new Set(['run-started', 'run-resumed', 'run-paused', 'run-aborted', 'run-completed', 'run-failed', 'approval-requested', 'approved', 'rollback-started', 'rollback-slice', 'rollback-completed', 'rolled-back']);
export function auditTrail(records) {
  return records.filter((record) => record.actor !== 'ferry' || CONTROL.has(record.type));
}

/** Mismatch rate (%) of each slice's shadow comparison over time, from its shadow-sample records. */
export function shadowRates(records) {
  return records.filter((r) => r.type === 'shadow-sample' && r.data.compared > 0).map((r) => ({ slice: r.data.slice, at: ms(r.at) / 1000, rate: (100 * r.data.mismatched) / r.data.compared }));
}

/** Replication lag of every slice over time: data sync's lag-sample, then the ramp's samples. */
export function lagPoints(records) {
  return records.filter((r) => (r.type === 'lag-sample' || r.type === 'ramp-sample') && typeof r.data.replicationLagMs === 'number').map((r) => ({ slice: r.data.slice, at: ms(r.type === 'ramp-sample' ? r.data.to : r.at) / 1000, value: r.data.replicationLagMs }));
}
