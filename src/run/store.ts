import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from '../util/errors.js';
import { isAlive } from '../util/process.js';
import { parsePlan } from '../plan/load.js';
import type { MigrationPlan } from '../plan/schema.js';
import { toYamlText } from '../util/output.js';
import type { ControlRequest } from './services.js';

/**
 * Where runs live: `<stateDir>/runs/<id>/` holds the plan as it was started (plan.yaml), the
 * journal (journal.jsonl), control requests from other commands (control.jsonl) and the
 * lock of the process driving the run (lock).
 *
 * A run exists once its journal has its first record (`run-started`). Until then — while
 * leases are taken and slice services built — its directory is invisible to `listRuns`,
 * `openRun` and `ferry status`, and a start that is refused removes it (`discardRun`).
 */
export function stateDir(explicit?: string): string {
  return explicit ?? process.env.FERRY_STATE_DIR ?? '.ferry';
}

export interface RunFiles {
  id: string;
  dir: string;
  plan: string;
  journal: string;
  control: string;
  lock: string;
}

export function runFiles(root: string, id: string): RunFiles {
  const dir = join(root, 'runs', id);
  return { id, dir, plan: join(dir, 'plan.yaml'), journal: join(dir, 'journal.jsonl'), control: join(dir, 'control.jsonl'), lock: join(dir, 'lock') };
}

export function createRun(root: string, plan: MigrationPlan, now = new Date()): RunFiles {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  let id = `${plan.metadata.name}-${stamp}`;
  for (let n = 2; existsSync(runFiles(root, id).dir); n++) id = `${plan.metadata.name}-${stamp}-${n}`;
  const files = runFiles(root, id);
  mkdirSync(files.dir, { recursive: true });
  writeFileSync(files.plan, toYamlText(plan));
  return files;
}

/** True once the run's journal holds a record: before that the run never started. */
export function runStarted(files: RunFiles): boolean {
  try {
    return statSync(files.journal).size > 0;
  } catch {
    return false;
  }
}

/**
 * Removes the directory of a run that never started (its start was refused: a lock held
 * elsewhere, a secret unset, a Secret unreadable). A run with a journal record is never
 * removed: it is history, and `ferry status` shows it.
 */
export function discardRun(files: RunFiles): void {
  if (runStarted(files)) return;
  rmSync(files.dir, { recursive: true, force: true });
}

export function openRun(root: string, id: string | undefined): { files: RunFiles; plan: MigrationPlan } {
  const chosen = id ?? latestRun(root);
  if (!chosen) throw new FerryError('run', `no runs under ${join(root, 'runs')}`, { fix: 'start one with `ferry run plan.yaml`' });
  const files = runFiles(root, chosen);
  if (!existsSync(files.plan) || !runStarted(files)) {
    throw new FerryError('run', `no run "${chosen}"`, { location: { file: files.dir }, fix: `list runs with \`ferry status --all\` (known: ${listRuns(root).slice(-5).join(', ') || 'none'})` });
  }
  return { files, plan: parsePlan(readFileSync(files.plan, 'utf8'), files.plan).plan };
}

export function listRuns(root: string): string[] {
  const dir = join(root, 'runs');
  return existsSync(dir) ? readdirSync(dir).filter((name) => existsSync(join(dir, name, 'plan.yaml')) && runStarted(runFiles(root, name))).sort() : [];
}

function latestRun(root: string): string | undefined {
  return listRuns(root).at(-1);
}

/** The live process holding the run's lock, if any (a dead holder's lock is taken over by the next driver). */
export function lockHolder(files: RunFiles): number | undefined {
  let holder: number;
  try {
    holder = Number(readFileSync(files.lock, 'utf8'));
  } catch {
    return undefined;
  }
  return holder && isAlive(holder) ? holder : undefined;
}

/** Exclusive lock: one process drives a run. A lock whose process is gone is taken over. */
export function acquireLock(files: RunFiles): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(files.lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(files.lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = lockHolder(files);
      if (holder) {
        throw new FerryError('run-locked', `run ${files.id} is being driven by process ${holder}`, { fix: `use \`ferry pause ${files.id}\` or \`ferry abort ${files.id}\` to stop it, or wait for it` });
      }
      rmSync(files.lock, { force: true });
    }
  }
  throw new FerryError('run-locked', `cannot lock run ${files.id}`, { location: { file: files.lock } });
}


/** Other commands (pause, approve, abort) leave requests; the driving process takes them in order. */
export function requestControl(files: RunFiles, request: ControlRequest): void {
  appendFileSync(files.control, `${JSON.stringify(request)}\n`);
}

export function takeControlRequests(files: RunFiles): ControlRequest[] {
  if (!existsSync(files.control)) return [];
  const taken = `${files.control}.${process.pid}.taking`;
  renameSync(files.control, taken);
  const requests = readFileSync(taken, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ControlRequest);
  rmSync(taken, { force: true });
  return requests;
}
