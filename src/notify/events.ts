import type { JournalRecord } from '../journal/record.js';
import type { NotificationEvent } from './schema.js';

/** One thing a receiver is told: the journal record behind it, named and summarized for people. */
export interface Notification {
  run: string;
  plan: string;
  event: NotificationEvent;
  slice?: string;
  stage?: string;
  /** The record's time (ISO). */
  at: string;
  /** The record's seq in the run's journal: with `run`, what a receiver dedupes on. */
  seq: number;
  /** One line for people. */
  summary: string;
  /** The record's data (as journaled: secrets already redacted), cut short when large. */
  data: Record<string, unknown>;
}

/** Larger data is replaced by a note: a receiver wants to know what happened, the journal keeps every number. */
const MAX_DATA_BYTES = 16 * 1024;

/**
 * The notification a journal record means, if any. Skipped stages are not told (they are
 * decided at plan time and would be most of the messages); ramp samples and bridge
 * bookkeeping are figures for the dashboard, not news.
 */
export function notificationOf(run: string, plan: string, record: JournalRecord): Notification | undefined {
  const data = record.data;
  const slice = typeof data.slice === 'string' ? data.slice : undefined;
  const stage = typeof data.stage === 'string' ? data.stage : undefined;
  const told = describe(run, record.type, data, slice, stage);
  if (!told) return undefined;
  const size = Buffer.byteLength(JSON.stringify(data));
  return {
    run, plan, event: told.event, ...(slice ? { slice } : {}), ...(stage ? { stage } : {}),
    at: record.at, seq: record.seq, summary: told.summary,
    data: size <= MAX_DATA_BYTES ? data : { truncated: true, bytes: size, see: `ferry status ${run}` },
  };
}

function describe(run: string, type: string, data: Record<string, unknown>, slice: string | undefined, stage: string | undefined): { event: NotificationEvent; summary: string } | undefined {
  const of = slice ? `slice ${slice}` : `run ${run}`;
  switch (type) {
    case 'run-started': return { event: 'run-started', summary: `run ${run} of plan ${String(data.plan ?? '')} started` };
    case 'run-resumed': return { event: 'run-resumed', summary: `run ${run} resumed` };
    case 'run-paused': return { event: 'run-paused', summary: `run ${run} paused: \`ferry resume ${run}\` continues` };
    case 'run-completed': return { event: 'run-completed', summary: `run ${run} completed` };
    case 'run-failed': return { event: 'run-failed', summary: `run ${run} failed: ${String(data.error ?? 'see ferry status')}` };
    case 'run-aborted': return { event: 'run-aborted', summary: `run ${run} aborted` };
    case 'stage-started': return { event: 'stage-changed', summary: `${of}: ${stage} started` };
    case 'stage-completed': return { event: 'stage-changed', summary: `${of}: ${stage} done` };
    case 'stage-failed': return { event: 'stage-changed', summary: `${of}: ${stage} failed: ${String(data.error ?? '')}` };
    case 'stage-interrupted': return { event: 'stage-changed', summary: `${of}: ${stage} interrupted by ${String(data.by ?? 'a request')}` };
    case 'approval-requested': {
      const approvers = Array.isArray(data.approvers) ? data.approvers.map(String).join(' or ') : 'an approver';
      return { event: 'approval-needed', summary: `${of} waits for ${approvers}: \`ferry approve ${run} ${slice ?? ''}\``.trimEnd() };
    }
    case 'approved': return { event: 'approved', summary: `${of} approved` };
    case 'weight-set': return { event: 'weight-changed', summary: `${of}: ${Number(data.weight)} % of users on the target${data.reason ? ` (${String(data.reason)})` : ''}` };
    case 'ramp-step-inconclusive': return { event: 'ramp-held', summary: `${of}: the judge could not decide step ${Number(data.step) + 1} (${String(data.action ?? 'held')}); open gates: ${openGates(data.open)}` };
    case 'rolled-back': {
      const detection = typeof data.detectionMs === 'number' ? ` detected ${seconds(data.detectionMs)} after onset,` : '';
      const recovery = typeof data.recoveryMs === 'number' ? ` users back on the source ${seconds(data.recoveryMs)} later` : '';
      return { event: 'rolled-back', summary: `${of} failed its gates at ${Number(data.weightBefore)} % and was rolled back:${detection}${recovery}`.replace(/[:,]$/, '') };
    }
    case 'rollback-slice': return { event: 'rolled-back', summary: `${of} is back on the source (${String(data.reason ?? 'rollback')}${typeof data.recoveryMs === 'number' ? `, in ${seconds(data.recoveryMs)}` : ''})` };
    case 'rollback-failed': return { event: 'rollback-failed', summary: `${of}: rollback failed: ${String(data.error ?? '')}` };
    case 'rollback-completed': return { event: 'rollback-completed', summary: data.partial ? `run ${run}: rollback of ${listed(data.slices)} completed` : `run ${run} rolled back` };
    default: return undefined;
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function openGates(open: unknown): string {
  if (!Array.isArray(open) || open.length === 0) return 'none';
  return open.map((gate: { gate?: unknown; verdict?: unknown }) => `${String(gate.gate)} (${String(gate.verdict)})`).join(', ');
}

function listed(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? value.map(String).join(', ') : 'the selected slices';
}
