/**
 * The whole `ferry run` of Online Boutique's generated plan, as a user runs it: a fresh lab
 * (source with the Boutique applied by kubectl, an empty target), `ferry plan --from source`,
 * then `ferry run` as its own process — once with `--parallel 1`, once with `--parallel 4`,
 * each on its own fresh lab, side by side in the same run. Traffic is `none` (no ramp), so
 * the figure is the run's own work: apply, readiness, soak and decommission of 12 slices.
 *
 * Two lab modes, both by default (BENCH_RUN_PODS=simulated|processes picks one): simulated
 * pods are ready at once, so the figure is Ferry's own and the API's; pods as processes make
 * readiness real process start-up and probes, which is where a wave's slices wait side by side.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { startLab } from '../src/lab/cluster.js';
import { BOUTIQUE, REPO, ferryAsync, runAsync } from '../test/helpers/cli.js';
import { report, section } from './report.js';

type Pods = 'simulated' | 'processes';
const modes: Pods[] = process.env.BENCH_RUN_PODS === 'processes' || process.env.BENCH_RUN_PODS === 'simulated' ? [process.env.BENCH_RUN_PODS] : ['simulated', 'processes'];

interface Measured {
  wallSeconds: number;
  /** run-started to run-completed in the journal: the run without the CLI's start and exit. */
  journalSeconds: number;
  waves: number;
  slices: number;
  /** Seconds from the first to the last record of each wave's slices. */
  waveSeconds: number[];
}

/** One fresh lab, one generated plan, one timed `ferry run --parallel N`. */
async function measure(parallel: number, pods: Pods): Promise<Measured> {
  const lab = await startLab({ clusters: ['source', 'target'], pods });
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-run-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, lab.kubeconfig, { mode: 0o600 });
    const kubectl = (args: string[]) => runAsync('kubectl', ['--kubeconfig', kubeconfig, '--context', 'source', ...args]);
    must(await kubectl(['apply', '--server-side', '-f', BOUTIQUE]), 'kubectl apply');
    must(await kubectl(['wait', '--for=condition=Available', 'deployment', '--all', '-n', 'default', '--timeout=120s']), 'kubectl wait');

    const planned = must(await ferryAsync(['plan', '--from', 'source', '--to', 'target', '--name', 'boutique', '--traffic', 'none', '--kubeconfig', kubeconfig]), 'ferry plan');
    // Production waits (decommission.after 1h, rollback.keepSourceFor 24h) would be the whole
    // figure; ferry plan has no flags for them, so the file is edited as a user rehearsing would.
    const document = parseDocument(planned.stdout);
    document.setIn(['spec', 'defaults', 'decommission', 'after'], '0s');
    document.setIn(['spec', 'defaults', 'rollback', 'keepSourceFor'], '0s');
    const plan = join(dir, 'plan.yaml');
    writeFileSync(plan, document.toString());
    const waves = (document.toJS().spec.waves as Array<{ slices: unknown[] }>);

    const stateDir = join(dir, 'state');
    const started = performance.now();
    // Spawned directly: ferryAsync kills a command after 2 minutes, which a serial run with process pods can exceed.
    const args = [`${REPO}/bin/ferry.js`, 'run', plan, '--parallel', String(parallel), '--kubeconfig', kubeconfig, '--state-dir', stateDir, '-o', 'json'];
    const run = must(await runAsync(process.execPath, args, { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 15 * 60_000 }), `ferry run --parallel ${parallel}`);
    const wallSeconds = (performance.now() - started) / 1000;
    const state = JSON.parse(run.stdout) as { id: string; status: string; slices: Array<{ name: string; wave: number }> };
    if (state.status !== 'completed') throw new Error(`ferry run --parallel ${parallel} ended ${state.status}`);
    const journal = readFileSync(join(stateDir, 'runs', state.id, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as JournalLine);
    const journalSeconds = (Date.parse(journal.at(-1)!.at) - Date.parse(journal[0]!.at)) / 1000;
    return { wallSeconds, journalSeconds, waves: waves.length, slices: state.slices.length, waveSeconds: waveSpans(journal, state.slices) };
  } finally {
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface JournalLine {
  at: string;
  data: { slice?: string };
}

function waveSpans(journal: JournalLine[], slices: Array<{ name: string; wave: number }>): number[] {
  const waveOf = new Map(slices.map((s) => [s.name, s.wave]));
  const spans = new Map<number, { first: number; last: number }>();
  for (const record of journal) {
    const wave = record.data.slice ? waveOf.get(record.data.slice) : undefined;
    if (wave === undefined) continue;
    const at = Date.parse(record.at);
    const span = spans.get(wave) ?? { first: at, last: at };
    spans.set(wave, { first: Math.min(span.first, at), last: Math.max(span.last, at) });
  }
  return [...spans.entries()].sort(([a], [b]) => a - b).map(([, span]) => (span.last - span.first) / 1000);
}

function must<T extends { code: number; stdout: string; stderr: string }>(result: T, what: string): T {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.slice(-1500)}`);
  return result;
}

for (const pods of modes) {
  section(`ferry run: Online Boutique's generated plan (traffic none), a fresh lab for each run, pods ${pods}`);
  const serial = await measure(1, pods);
  const parallel = await measure(4, pods);
  report({ name: `ferry run --parallel 1 (${serial.slices} slices, ${serial.waves} waves)`, value: serial.wallSeconds, unit: 's' });
  report({ name: 'ferry run --parallel 4', value: parallel.wallSeconds, unit: 's', compare: { kind: 'reference', label: '--parallel 1', value: serial.wallSeconds, lowerIsBetter: true } });
  report({ name: '  journal run-started → run-completed, --parallel 4', value: parallel.journalSeconds, unit: 's', compare: { kind: 'reference', label: '--parallel 1', value: serial.journalSeconds, lowerIsBetter: true } });
  for (const [index, seconds] of parallel.waveSeconds.entries()) {
    report({ name: `  wave ${index + 1}, --parallel 4`, value: seconds, unit: 's', compare: { kind: 'reference', label: '--parallel 1', value: serial.waveSeconds[index] ?? Number.NaN, lowerIsBetter: true } });
  }
}
