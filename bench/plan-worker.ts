/** Child of plan.bench.ts: plans one YAML file the way `ferry plan --manifests` does, and reports time and its own peak memory. */
import { performance } from 'node:perf_hooks';
import { inventoryFromManifests } from '../src/inventory/load.js';
import { generatePlan } from '../src/plan/generate.js';
import { toYamlText } from '../src/util/output.js';
import { peakRssMb } from './report.js';

const file = process.argv[2]!;
const before = await peakRssMb();
const started = performance.now();
const inventory = inventoryFromManifests({ manifests: file });
const plan = generatePlan(inventory.objects, { source: { manifests: file }, target: { context: 'target' } });
const yaml = toYamlText(plan);
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, peakMb: await peakRssMb(), baselineMb: before, bytes: yaml.length }));
