/**
 * Planning speed: a generated inventory of 10,000 objects (1,000 services), from objects in
 * memory and from a YAML file on disk, with peak memory. Targets: under 2 s and 300 MB.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syntheticInventory } from '../src/inventory/synthetic.js';
import { spawnSync } from 'node:child_process';
import { generatePlan } from '../src/plan/generate.js';
import { toYamlText } from '../src/util/output.js';
import { report, section } from './report.js';

const objects = syntheticInventory({ services: 1000 });
const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-plan-'));
const file = join(dir, 'inventory.yaml');
writeFileSync(file, objects.map((object) => toYamlText(object)).join('---\n'));

section(`plan: ${objects.length} objects, 1,000 services`);
const options = { source: { manifests: file }, target: { context: 'target' } };
generatePlan(objects, options); // warm-up: JIT and module loading are not what we measure

const started = performance.now();
const plan = generatePlan(objects, options);
const yaml = toYamlText(plan);
const inMemory = performance.now() - started;
report({ name: 'plan from objects in memory (graph, waves, YAML)', value: inMemory, unit: 'ms', compare: { kind: 'target', label: '2 s', value: 2000, lowerIsBetter: true } });

// The CLI path in a fresh process, so its peak memory is the plan's alone.
const worker = spawnSync(process.execPath, ['--import', 'tsx', new URL('./plan-worker.ts', import.meta.url).pathname, file], { encoding: 'utf8' });
const fromFile = JSON.parse(worker.stdout) as { ms: number; peakMb: number; baselineMb: number };
report({ name: 'plan from a 10,000-object YAML file (parse included)', value: fromFile.ms, unit: 'ms', compare: { kind: 'target', label: '2 s', value: 2000, lowerIsBetter: true } });
report({ name: 'peak memory of that process (RSS high-water mark)', value: fromFile.peakMb, unit: 'MB', compare: { kind: 'target', label: '300 MB', value: 300, lowerIsBetter: true } });
report({ name: '  of which node + tsx at start', value: fromFile.baselineMb, unit: 'MB' });
report({ name: 'waves / slices / plan size', value: plan.spec.waves.length, unit: `waves, ${plan.spec.waves.reduce((n, w) => n + w.slices.length, 0)} slices, ${(yaml.length / 1024 / 1024).toFixed(1)} MB YAML` });
rmSync(dir, { recursive: true, force: true });
