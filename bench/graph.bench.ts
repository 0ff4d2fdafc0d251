/**
 * `ferry graph` on 10,000 objects whose services find each other through 1,000 shared
 * ConfigMaps (and Secrets, $(VAR), args, pod DNS names): in memory, and as the CLI does it
 * from a YAML file in its own process, with peak memory. Targets (issue #17): 2 s and 300 MB.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { buildDependencyGraph } from '../src/graph/build.js';
import { buildUnitGraph } from '../src/graph/units.js';
import { idOf } from '../src/graph/model.js';
import { isWorkload } from '../src/graph/pod-spec.js';
import { toYamlText } from '../src/util/output.js';
import { sharedConfigInventory } from './graph-inventory.js';
import { report, section } from './report.js';

const objects = sharedConfigInventory();
const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-graph-'));
const file = join(dir, 'inventory.yaml');
writeFileSync(file, objects.map((object) => toYamlText(object)).join('---\n'));
const workloads = objects.filter(isWorkload).map(idOf);

section(`graph: ${objects.length} objects, ${objects.filter((o) => o.kind === 'ConfigMap').length} shared ConfigMaps`);
buildUnitGraph(buildDependencyGraph(objects), workloads); // warm-up: JIT and module loading are not what we measure

const started = performance.now();
const graph = buildDependencyGraph(objects);
const units = buildUnitGraph(graph, workloads);
const inMemory = performance.now() - started;
report({ name: 'graph + units from objects in memory', value: inMemory, unit: 'ms', compare: { kind: 'target', label: '2 s', value: 2000, lowerIsBetter: true } });

const worker = spawnSync(process.execPath, ['--import', 'tsx', new URL('./graph-worker.ts', import.meta.url).pathname, file], { encoding: 'utf8' });
if (worker.status !== 0) throw new Error(worker.stderr);
const cli = JSON.parse(worker.stdout) as { ms: number; peakMb: number; baselineMb: number; bytes: number };
report({ name: 'ferry graph -o json from the YAML file (parse included)', value: cli.ms, unit: 'ms', compare: { kind: 'target', label: '2 s', value: 2000, lowerIsBetter: true } });
report({ name: 'peak memory of that process (RSS high-water mark)', value: cli.peakMb, unit: 'MB', compare: { kind: 'target', label: '300 MB', value: 300, lowerIsBetter: true } });
report({ name: '  of which node + tsx at start', value: cli.baselineMb, unit: 'MB' });
const runtime = graph.edges.filter((edge) => edge.runtime && edge.reason !== 'selector');
report({ name: 'call edges / of them shared config / units', value: runtime.length, unit: `edges, ${runtime.filter((e) => e.provenance === 'static (shared config)').length} shared config, ${units.units.length} units, ${(cli.bytes / 1024 / 1024).toFixed(1)} MB JSON` });
rmSync(dir, { recursive: true, force: true });
