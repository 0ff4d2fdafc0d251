/** Child of graph.bench.ts: `ferry graph -o json` on one YAML file (parse, graph, units, JSON), with time and its own peak memory. */
import { performance } from 'node:perf_hooks';
import { inventoryFromManifests } from '../src/inventory/load.js';
import { buildDependencyGraph } from '../src/graph/build.js';
import { buildUnitGraph } from '../src/graph/units.js';
import { idOf } from '../src/graph/model.js';
import { isWorkload } from '../src/graph/pod-spec.js';
import { toJson } from '../src/util/output.js';
import { peakRssMb } from './report.js';

const file = process.argv[2]!;
const before = await peakRssMb();
const started = performance.now();
const inventory = inventoryFromManifests({ manifests: file });
const graph = buildDependencyGraph(inventory.objects);
const units = buildUnitGraph(graph, inventory.objects.filter(isWorkload).map(idOf));
const json = toJson({ units: units.units, unitEdges: units.edges, nodes: graph.nodes, edges: graph.edges, dangling: graph.dangling });
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, peakMb: await peakRssMb(), baselineMb: before, bytes: json.length }));
