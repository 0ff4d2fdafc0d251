import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';

/** One journal record as `ferry run` writes it (journal.jsonl, one JSON object a line). */
export interface JournalLine {
  type: string;
  at: string;
  actor?: string;
  data: Record<string, any>;
}

/** The journal of the only run under `stateDir`. */
export function readOnlyJournal(stateDir: string): JournalLine[] {
  const runs = readdirSync(join(stateDir, 'runs'));
  if (runs.length !== 1) throw new Error(`expected one run under ${stateDir}, found ${runs.length}`);
  return readFileSync(join(stateDir, 'runs', runs[0]!, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as JournalLine);
}

/**
 * `ferry plan … -o json` as a user runs it, narrowed to one edge slice with no dependencies
 * (the other slices of the generated plan would need their own traffic): `edit` then sets
 * what a test needs short (steps, windows, soak) on the plan's defaults.
 */
export async function generatedPlan(args: string[], sliceName: string, edit: (plan: any, slice: any) => void): Promise<any> {
  const planned = await ferryAsync(['plan', ...args, '-o', 'json']);
  if (planned.code !== 0) throw new Error(`ferry plan failed: ${planned.stderr}`);
  const plan = JSON.parse(planned.stdout);
  const slice = plan.spec.waves.flatMap((wave: any) => wave.slices).find((candidate: any) => candidate.name === sliceName);
  if (!slice) throw new Error(`the generated plan has no slice ${sliceName}`);
  plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [] }] }];
  edit(plan, plan.spec.waves[0].slices[0]);
  return plan;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
