/** The errors a switchover ends with when it cannot pause writes: blocked freezes, or a pause over its budget. */
import { FerryError } from '../../util/errors.js';
import type { GivenBackPause, Side } from '../provider.js';
import type { PgSide } from './connection.js';

/** What the errors name about the move. */
export interface PauseFacts {
  from: PgSide;
  freezeSide: Side;
  lockTimeoutMs: number;
  maxPauseMs: number | null;
}

export async function lockError(m: PauseFacts, attempts: number, error: unknown): Promise<FerryError> {
  const blockers = await m.from.q<{ pid: number; age: number; query: string }>(
    `select pid, extract(epoch from now() - xact_start)::float8 as age, left(query, 60) as query from pg_stat_activity
      where backend_xid is not null and pid <> pg_backend_pid() order by xact_start limit 3`,
  );
  return new FerryError('data.cutover', `could not freeze writes on the ${m.freezeSide} in ${attempts} attempts of ${Math.round(m.lockTimeoutMs)} ms: long write transactions hold the tables (${blockers.map((b) => `pid ${b.pid} open ${b.age.toFixed(1)} s`).join(', ') || String((error as Error).message)})`, {
    fix: 'let those transactions finish (or end them) and run the cutover again; nothing was changed',
    cause: error,
  });
}

export function pauseError(m: PauseFacts, givenBack: GivenBackPause[]): FerryError {
  const last = givenBack[givenBack.length - 1]!;
  const longest = Math.max(...givenBack.map((g) => g.pauseMs));
  return new FerryError(
    'data.cutover',
    `the write pause would exceed data.maxWritePause (${m.maxPauseMs} ms): ${givenBack.length} attempt(s) gave the writes back to the ${m.freezeSide} (longest pause ${longest.toFixed(0)} ms; last: ${last.reason}); writes stay on the ${m.freezeSide}, nothing moved`,
    {
      location: { field: 'data.maxWritePause' },
      fix: `cut over when replication keeps up (\`ferry data status\` shows the lag; large transactions in flight or a slow link delay the drain), or raise data.maxWritePause in the plan (--max-write-pause on the command line)`,
    },
  );
}
