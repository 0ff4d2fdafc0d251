import type { Command } from 'commander';
import { recordsAsWritten } from '../journal/journal.js';
import type { JournalRecord } from '../journal/record.js';
import type { VerifyResult } from '../journal/verify.js';
import { verifyRunJournal } from '../journal/trust.js';
import type { MigrationPlan } from '../plan/schema.js';
import { color } from '../util/color.js';
import { globalOptions } from './context.js';
import { journalTrustConfig } from './journal-options.js';

/** A run's journal checked with the key and anchor options of the command (status, audit verify). */
export async function verifyCommandJournal(command: Command, run: { id: string; journal: string }, plan: MigrationPlan): ReturnType<typeof verifyRunJournal> {
  const { kubeconfig } = globalOptions(command);
  const { targetContext } = command.opts<{ targetContext?: string }>();
  return verifyRunJournal(run.journal, {
    runId: run.id, plan, trust: journalTrustConfig(command),
    ...(kubeconfig ? { kubeconfig } : {}), ...(targetContext ? { targetContext } : {}),
  });
}

/** The records a command shows: the verified ones, else what the file claims (shown under its verification failure). */
export function recordsToShow(journal: string, checked: { records: JournalRecord[]; verify: VerifyResult }): JournalRecord[] {
  return checked.verify.ok ? checked.records : recordsAsWritten(journal);
}

/** What `-o json` carries about the journal: `{ ok, brokenAt?, problem?, keyed, … }`. */
export function journalSummary(verify: VerifyResult): Record<string, unknown> {
  return {
    ok: verify.ok, records: verify.records, keyed: verify.keyed,
    ...(verify.brokenAt ? { brokenAt: verify.brokenAt } : {}), ...(verify.problem ? { problem: verify.problem } : {}),
    ...(verify.anchor ? { anchor: verify.anchor } : {}),
  };
}

/** One word for a table column. */
export function journalWord(verify: VerifyResult): string {
  return !verify.ok ? (verify.brokenAt ? 'TAMPERED' : 'UNVERIFIED') : verify.keyed ? 'intact' : 'unkeyed';
}

/** The line `ferry status` puts above a run whose journal does not verify, or is unkeyed; '' otherwise. */
export function journalWarning(file: string, verify: VerifyResult): string {
  const c = color();
  if (verify.brokenAt) {
    return `${c.red(c.bold('TAMPERED'))}: the journal was changed at record ${verify.brokenAt.seq} (${file}:${verify.brokenAt.line}): ${verify.brokenAt.reason}. What follows is what the file claims, not proven (\`ferry audit verify\`).\n`;
  }
  if (verify.problem) return `${c.red(c.bold('UNVERIFIED'))}: ${verify.problem}. What follows is what the file claims, not proven.\n`;
  if (!verify.keyed && verify.records > 0) return `${c.yellow('unkeyed journal')}: written before Ferry keyed its journals; it cannot prove it was not rewritten.\n`;
  return '';
}
