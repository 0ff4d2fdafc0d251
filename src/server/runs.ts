/**
 * What the dashboard reads about runs: the list, one run's plan outline, its derived state and
 * its journal records — all from the run store, as `ferry status` reads them (the dashboard
 * shows a journal as written; `ferry audit verify` is what vouches for it).
 */
import { statSync } from 'node:fs';
import { recordsAsWritten } from '../journal/journal.js';
import type { JournalRecord } from '../journal/record.js';
import type { RunState } from '../run/model.js';
import type { MigrationPlan } from '../plan/schema.js';
import { deriveRunState } from '../run/state.js';
import { listRuns, lockHolder, openRun, runFiles, type RunFiles } from '../run/store.js';

export interface RunSummary {
  id: string;
  plan: string;
  status: RunState['status'];
  startedAt?: string;
  endedAt?: string;
  awaitingApproval: string[];
  /** The process driving the run now, when one does. */
  drivenBy?: number;
}

/** The plan as the dashboard draws it: waves, slices, who approves, the calls that cross clusters. */
export interface PlanOutline {
  name: string;
  waves: Array<{
    name: string;
    slices: Array<{ name: string; approvers: string[]; traffic: string; steps?: number[] }>;
    crossClusterCalls: MigrationPlan['spec']['waves'][number]['crossClusterCalls'];
  }>;
}

/** A journal record as the browser gets it: the chain's hashes and MAC stay on disk. */
export type ViewRecord = Pick<JournalRecord, 'seq' | 'at' | 'type' | 'actor' | 'data'>;

export interface RunView {
  id: string;
  plan: PlanOutline;
  state: RunState;
  records: ViewRecord[];
  drivenBy?: number;
}

/**
 * The runs list (`/api/runs`, polled by every open page), each run's journal read again only
 * when it changed (its size or mtime): a run with an open feed gives the state the feed holds,
 * any other the state derived when its journal last changed.
 */
export class RunSummaries {
  private readonly known = new Map<string, { stamp: string; summary: Omit<RunSummary, 'drivenBy'> }>();

  constructor(private readonly root: string, private readonly liveState: (id: string) => RunState | undefined = () => undefined) {}

  list(): RunSummary[] {
    const ids = listRuns(this.root);
    const listed = new Set(ids);
    for (const id of this.known.keys()) if (!listed.has(id)) this.known.delete(id);
    return ids.map((id) => {
      const files = runFiles(this.root, id);
      const drivenBy = lockHolder(files);
      return { ...this.summary(id, files), ...(drivenBy ? { drivenBy } : {}) };
    }).reverse();
  }

  private summary(id: string, files: RunFiles): Omit<RunSummary, 'drivenBy'> {
    const live = this.liveState(id);
    if (live) return summarize(live);
    // Stamped before reading: a record appended in between makes the next request read again.
    const stamp = journalStamp(files);
    const known = this.known.get(id);
    if (known && stamp !== undefined && known.stamp === stamp) return known.summary;
    const { plan } = openRun(this.root, id);
    const summary = summarize(deriveRunState(id, plan, recordsAsWritten(files.journal)));
    if (stamp !== undefined) this.known.set(id, { stamp, summary });
    return summary;
  }
}

function summarize(state: RunState): Omit<RunSummary, 'drivenBy'> {
  return {
    id: state.id, plan: state.plan, status: state.status, awaitingApproval: state.awaitingApproval,
    ...(state.startedAt ? { startedAt: state.startedAt } : {}), ...(state.endedAt ? { endedAt: state.endedAt } : {}),
  };
}

export function summarizeRuns(root: string): RunSummary[] {
  return new RunSummaries(root).list();
}

/** The journal's size and mtime: an append changes them, so an equal stamp means nothing new to read. */
export function journalStamp(files: RunFiles): string | undefined {
  try {
    const stat = statSync(files.journal);
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return undefined;
  }
}

export function outlinePlan(plan: MigrationPlan): PlanOutline {
  return {
    name: plan.metadata.name,
    waves: plan.spec.waves.map((wave) => ({
      name: wave.name,
      slices: wave.slices.map((slice) => {
        const provider = slice.traffic?.provider;
        const steps = slice.traffic?.steps ?? plan.spec.defaults?.traffic?.steps;
        return { name: slice.name, approvers: slice.approvers ?? [], traffic: typeof provider === 'string' ? provider : provider?.type ?? 'default', ...(steps ? { steps } : {}) };
      }),
      crossClusterCalls: wave.crossClusterCalls,
    })),
  };
}

export function viewRecord(record: JournalRecord): ViewRecord {
  return { seq: record.seq, at: record.at, type: record.type, actor: record.actor, data: record.data };
}

export function runView(files: RunFiles, plan: MigrationPlan, records: readonly JournalRecord[]): RunView {
  const drivenBy = lockHolder(files);
  return { id: files.id, plan: outlinePlan(plan), state: deriveRunState(files.id, plan, records), records: records.map(viewRecord), ...(drivenBy ? { drivenBy } : {}) };
}

export { lockHolder };
