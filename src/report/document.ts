import type { FailureReport, JournalCheck, MeanOf, RunReport, SliceReport } from './model.js';
import { failedRequests } from './scorecard.js';

/**
 * The report as a list of blocks (headings, text, tables, the place of a slice's charts), so
 * Markdown and HTML say the same thing in the same order; each renderer only marks it up.
 */
export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3 | 4; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'alert'; text: string }
  | { kind: 'table'; headers: string[]; rows: string[][] }
  | { kind: 'charts'; slice: string };

export function reportBlocks(report: RunReport): Block[] {
  const { run, scorecard } = report;
  const t0 = run.startedAt ?? 0;
  const blocks: Block[] = [{ kind: 'heading', level: 1, text: `Ferry run report: ${run.id}` }];
  blocks.push({
    kind: 'text',
    text: `Plan ${run.plan}; status ${run.status}${run.finished ? '' : ' (not finished: this report covers the run up to its last journal record)'}; started ${iso(run.startedAt)}; ${run.endedAt ? `ended ${iso(run.endedAt)}` : `last record ${iso(run.lastRecordAt)}`}; ${run.durationMs !== undefined ? `duration ${duration(run.durationMs)}` : 'no duration'}; ${run.records} journal records.`,
  });
  if (run.error) blocks.push({ kind: 'text', text: `Error: ${run.error}` });
  const warning = journalAlert(report.journal);
  if (warning) blocks.push({ kind: 'alert', text: warning });

  blocks.push({ kind: 'heading', level: 2, text: 'Scorecard' });
  blocks.push({ kind: 'table', headers: ['Measure', 'Value'], rows: scorecardRows(report) });

  blocks.push({ kind: 'heading', level: 2, text: 'Failures and rollbacks' });
  if (scorecard.failures.length === 0) blocks.push({ kind: 'text', text: 'None: no gate rolled a ramp back and no slice was rolled back.' });
  else {
    blocks.push({
      kind: 'table',
      headers: ['Slice', 'Kind', 'Onset', 'Detected', 'Weight 0', 'MTTD', 'MTTR', 'Weight before', 'Reason'],
      rows: scorecard.failures.map((f) => [f.slice, f.kind, offset(f.onsetAt, t0), offset(f.detectedAt, t0), offset(f.weightZeroAt, t0), ms(f.mttdMs), ms(f.mttrMs), f.weightBefore !== undefined ? `${f.weightBefore} %` : '-', failureReason(f, t0)]),
    });
    blocks.push({ kind: 'text', text: 'Kinds: gate = the ramp\'s judge rolled the weight back; automatic = rollback.onFailure took the slice back after a failed stage; requested = `ferry rollback`. Times are seconds after the run started.' });
  }

  if (scorecard.targetShare) {
    blocks.push({ kind: 'heading', level: 2, text: 'Traffic on the target within the planned window' });
    blocks.push({
      kind: 'table',
      headers: ['Slice', 'Window', 'Planned', 'Weight (journaled)', 'Requests (sampled)', 'Weight at window end', 'At 100 %'],
      rows: scorecard.targetShare.slices.map((s) => [
        s.slice, `${offset(s.windowStart, t0)} – ${offset(s.windowEnd, t0)} (${duration(s.plannedMs)})${s.complete ? '' : ', up to the last record'}`,
        percent(s.plannedShare), percent(s.weightShare), s.requestShare !== undefined ? percent(s.requestShare) : '-', `${s.weightAtWindowEnd} %`,
        s.fullAt !== undefined ? `${offset(s.fullAt, t0)}${s.fullInWindow ? ' (in window)' : ' (late)'}` : 'never',
      ]),
    });
  }

  blocks.push({ kind: 'heading', level: 2, text: 'Waves, slices and stages' });
  for (const wave of report.waves) {
    blocks.push({ kind: 'heading', level: 3, text: `Wave ${wave.number}: ${wave.name}` });
    const when = wave.startedAt !== undefined ? `From ${offset(wave.startedAt, t0)} to ${offset(wave.endedAt, t0)}${wave.endedAt !== undefined ? ` (${duration(wave.endedAt - wave.startedAt)})` : ''}.` : 'Not started.';
    const calls = wave.crossClusterCalls.length ? ` Calls crossing clusters once it has moved: ${wave.crossClusterCalls.map((call) => `${call.from} → ${call.to} (${call.direction})`).join(', ')}.` : '';
    blocks.push({ kind: 'text', text: `${when}${calls}` });
    for (const slice of wave.slices) blocks.push(...sliceBlocks(slice, t0));
  }

  blocks.push({ kind: 'heading', level: 2, text: 'Stage durations' });
  if (scorecard.stageDurations.length === 0) blocks.push({ kind: 'text', text: 'No stage has finished yet.' });
  else blocks.push({ kind: 'table', headers: ['Stage', 'Attempts', 'Total', 'Mean', 'Longest'], rows: scorecard.stageDurations.map((s) => [s.stage, String(s.attempts), duration(s.totalMs), duration(s.meanMs), duration(s.maxMs)]) });

  if (scorecard.parity.checks.length > 0) {
    blocks.push({ kind: 'heading', level: 2, text: 'Data parity' });
    blocks.push({
      kind: 'table',
      headers: ['Slice', 'Check', 'At', 'Result', 'Rows', 'Differences', 'Transient (repaired by replication)'],
      rows: scorecard.parity.checks.map((c) => [c.slice, c.check, offset(c.at, t0), c.ok ? 'equal' : 'DIFFERENT', c.rows !== undefined ? String(c.rows) : '-', c.differences !== undefined ? String(c.differences) : '-', c.transientDifferences !== undefined ? String(c.transientDifferences) : '-']),
    });
  }
  if (scorecard.writePauses.length > 0) {
    blocks.push({ kind: 'heading', level: 2, text: 'Write pauses' });
    blocks.push({
      kind: 'table',
      headers: ['Slice', 'Kind', 'At', 'Write pause', 'Limit', 'Over limit', 'Attempts given back'],
      rows: scorecard.writePauses.map((p) => [p.slice, p.kind, offset(p.at, t0), ms(p.writePauseMs), ms(p.maxWritePauseMs), ms(p.pauseOverLimitMs), p.givenBack !== undefined ? String(p.givenBack) : '-']),
    });
  }
  if (report.bridges.length > 0 || report.bridgeProblems.length > 0) blocks.push({ kind: 'heading', level: 2, text: 'Cross-cluster bridges' });
  if (report.bridges.length > 0) {
    blocks.push({
      kind: 'table',
      headers: ['Bridge', 'Callee', 'Callers', 'Provider', 'Created', 'Removed', 'Warnings'],
      rows: report.bridges.map((b) => [b.key, b.callee ?? '-', b.callers.join(', ') || '-', b.provider ?? '-', offset(b.createdAt, t0), b.removedAt !== undefined ? offset(b.removedAt, t0) : b.replacedAt !== undefined ? `replaced ${offset(b.replacedAt, t0)}` : 'still there', b.warnings.join('; ') || '-']),
    });
  }
  if (report.bridgeProblems.length > 0) {
    blocks.push({ kind: 'text', text: `Bridges that could not be changed: ${report.bridgeProblems.map((p) => `${p.key ?? p.slice ?? '?'} at ${offset(p.at, t0)}: ${p.error}`).join('; ')}` });
  }
  if (report.approvals.length > 0) {
    blocks.push({ kind: 'heading', level: 2, text: 'Approvals' });
    blocks.push({ kind: 'table', headers: ['Slice', 'Approved by', 'At'], rows: report.approvals.map((a) => [a.slice, a.by, iso(a.at)]) });
  }
  blocks.push({ kind: 'heading', level: 2, text: 'Journal' });
  blocks.push({ kind: 'text', text: journalText(report.journal) });
  blocks.push({ kind: 'heading', level: 2, text: 'Definitions' });
  blocks.push({ kind: 'table', headers: ['Measure', 'Definition'], rows: Object.entries(report.definitions).map(([key, text]) => [key, text]) });
  return blocks;
}

function scorecardRows(report: RunReport): string[][] {
  const { scorecard } = report;
  const failed = scorecard.failedRequests;
  const share = scorecard.targetShare?.overall;
  return [
    ['Failed user requests', failed
      ? `target ${failed.target} of ${failed.requests.target} (${rate(failed.target, failed.requests.target)}), source ${failed.source} of ${failed.requests.source} (${rate(failed.source, failed.requests.source)}), from ${failed.samples} ramp samples`
      : 'no ramp samples in the journal (no ramp ran, or it was written before ramps were sampled)'],
    ['MTTD (mean time to detect)', mean(scorecard.mttdMs)],
    ['MTTR (mean time to recover)', mean(scorecard.mttrMs)],
    ['Traffic on the target in the planned window', share
      ? `${share.requestShare !== undefined ? `${percent(share.requestShare)} of sampled requests; ` : ''}weight ${percent(share.weightShare)} (planned ${percent(share.plannedShare)}); ${share.fullInWindow} of ${share.slices} slices at 100 % within their window`
      : 'no slice ramped'],
    ['Parity differences', scorecard.parity.checks.length ? `found ${scorecard.parity.found}, repaired ${scorecard.parity.repaired}, outstanding ${scorecard.parity.outstanding} (${scorecard.parity.checks.length} checks)` : 'no parity check'],
    ['Write pause per cutover', scorecard.writePauses.length ? scorecard.writePauses.map((p) => `${p.slice} ${ms(p.writePauseMs)}${p.kind === 'failback' ? ' (failback)' : ''}`).join(', ') : 'no data cutover'],
    ['Stages', scorecard.stageDurations.length ? scorecard.stageDurations.map((s) => `${s.stage} ${duration(s.totalMs)}`).join(', ') : 'none finished'],
    ['Journal', journalWordOf(report.journal)],
    ['Bridges', report.bridges.length ? `${report.bridges.length} created, ${report.bridges.filter((b) => b.removedAt === undefined && b.replacedAt === undefined).length} still there` : 'none'],
  ];
}

function sliceBlocks(slice: SliceReport, t0: number): Block[] {
  const note = slice.rolledBack ? ', rolled back' : slice.automaticRollbacks ? `, rolled back automatically ${slice.automaticRollbacks}×` : '';
  const blocks: Block[] = [{ kind: 'heading', level: 4, text: `${slice.name}: target weight ${slice.weight} %${note}` }];
  if (slice.lastError) blocks.push({ kind: 'text', text: `Last error: ${slice.lastError}` });
  if (slice.stages.length === 0) blocks.push({ kind: 'text', text: 'No stage started yet.' });
  else {
    blocks.push({
      kind: 'table',
      headers: ['Stage', 'Result', 'Started', 'Ended', 'Duration', 'Detail'],
      rows: slice.stages.map((s) => [s.stage, s.result, offset(s.startedAt, t0), offset(s.endedAt, t0), s.durationMs !== undefined ? duration(s.durationMs) : '-', s.error ?? s.reason ?? s.detail ?? '']),
    });
  }
  if (slice.weights.length > 0) {
    blocks.push({ kind: 'text', text: `Weights: ${slice.weights.map((w) => `${w.weight} % at ${offset(w.at, t0)}${w.record !== 'weight-set' ? ` (${w.record})` : w.reason ? ` (${w.reason})` : ''}`).join(' → ')}` });
  }
  if (slice.samples.length > 0) {
    const served = failedRequests([slice])!;
    const maxOf = (values: Array<number | undefined>) => {
      const known = values.filter((v): v is number => v !== undefined);
      return known.length ? ms(Math.max(...known)) : '-';
    };
    blocks.push({
      kind: 'text',
      text: `Ramp samples: ${slice.samples.length}; target ${served.target} errors of ${served.requests.target} requests, highest p99 ${maxOf(slice.samples.map((s) => s.target.p99Ms))}; source ${served.source} errors of ${served.requests.source} requests, highest p99 ${maxOf(slice.samples.map((s) => s.source.p99Ms))}.`,
    });
  }
  if (slice.lag.length > 0) {
    const during = (phase: 'data-sync' | 'ramp') => slice.lag.filter((l) => l.during === phase).map((l) => l.lagMs);
    const highest = (values: number[]) => (values.length ? `highest ${ms(Math.max(...values))} over ${values.length} samples` : 'not sampled');
    blocks.push({ kind: 'text', text: `Replication lag: during data sync ${highest(during('data-sync'))}; during the ramp ${highest(during('ramp'))}; last ${ms(slice.lag.at(-1)!.lagMs)} at ${offset(slice.lag.at(-1)!.at, t0)}.` });
  }
  if (slice.weights.length > 0 || slice.samples.length > 0 || slice.lag.length > 0) blocks.push({ kind: 'charts', slice: slice.name });
  return blocks;
}

function failureReason(failure: FailureReport, t0: number): string {
  const followed = failure.followedBy ? ` Then rollback.onFailure took the slice back at ${offset(failure.followedBy.at, t0)}${failure.followedBy.recoveryMs !== undefined ? ` (weight 0 ${ms(failure.followedBy.recoveryMs)} after its failure)` : ''}.` : '';
  return `${failure.reason.replace(/[.\s]*$/, '.')}${followed}`;
}

function journalAlert(journal: JournalCheck): string | undefined {
  if (!journal.checked) return undefined;
  if (journal.brokenAt) return `TAMPERED: the journal was changed at record ${journal.brokenAt.seq} (line ${journal.brokenAt.line}): ${journal.brokenAt.reason}. This report is what the file claims, not proven (\`ferry audit verify\`).`;
  if (journal.problem) return `UNVERIFIED: ${journal.problem}. This report is what the file claims, not proven.`;
  return undefined;
}

function journalWordOf(journal: JournalCheck): string {
  if (!journal.checked) return `not checked (${journal.records} records)`;
  if (journal.brokenAt) return `TAMPERED at record ${journal.brokenAt.seq}`;
  if (journal.problem) return 'UNVERIFIED';
  return journal.keyed ? `intact: ${journal.records} records, hash chain and MACs checked` : `intact but unkeyed: ${journal.records} records chained by plain SHA-256`;
}

function journalText(journal: JournalCheck): string {
  if (!journal.checked) return `Not checked: ${journal.records} records, as the file holds them.`;
  const parts = [journalWordOf(journal)];
  if (journal.key) parts.push(`key ${journal.key.id} (${journal.key.where})`);
  if (journal.anchor) parts.push(`head anchored in ${journal.anchor.where} at record ${journal.anchor.count} (${journal.anchor.at})${journal.unanchored ? `, ${journal.unanchored} records written after it` : ''}`);
  if (journal.brokenAt) parts.push(`record ${journal.brokenAt.seq}: ${journal.brokenAt.reason}`);
  if (journal.problem) parts.push(journal.problem);
  if (journal.tornTail) parts.push('the last line was cut by a crash mid-write and is not part of the journal');
  return `${parts.join('; ')}.`;
}

export function iso(time: number | undefined): string {
  return time === undefined || !Number.isFinite(time) ? '-' : new Date(time).toISOString();
}

/** Seconds after the run started: the timelines' and tables' common clock. */
export function offset(time: number | undefined, t0: number): string {
  return time === undefined || !Number.isFinite(time) ? '-' : `T+${((time - t0) / 1000).toFixed(1)} s`;
}

export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return Math.abs(value) >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function duration(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 120_000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.floor(value / 60_000)} min ${Math.round((value % 60_000) / 1000)} s`;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

function rate(errors: number, requests: number): string {
  return requests ? `${((errors / requests) * 100).toFixed(2)} %` : '-';
}

function mean(value: MeanOf | null): string {
  if (!value) return 'no failure detected';
  return `${ms(value.mean)} over ${value.count} failure${value.count === 1 ? '' : 's'}${value.count > 1 ? ` (${ms(value.min)} – ${ms(value.max)})` : ''}`;
}
