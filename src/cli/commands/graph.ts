import type { Command } from 'commander';
import { buildDependencyGraph } from '../../graph/build.js';
import { idOf } from '../../graph/model.js';
import { isWorkload } from '../../graph/pod-spec.js';
import { renderableObjects, renderableUnits, toDot, toMermaid } from '../../graph/render.js';
import { buildUnitGraph } from '../../graph/units.js';
import { toJson } from '../../util/output.js';
import { parseOutputFormat } from '../context.js';
import { addSourceOptions, inventoryFromFlags } from '../sources.js';

export function register(program: Command): void {
  addSourceOptions(program.command('graph').description('print the dependency graph: which workloads call which, and what they use'))
    .option('-o, --output <format>', 'mermaid, dot or json', 'mermaid')
    .option('--level <level>', 'workloads (units that move together) or objects', 'workloads')
    .action(async (options, command: Command) => {
      const format = parseOutputFormat(options.output, ['mermaid', 'dot', 'json'] as const);
      const level = parseOutputFormat(options.level, ['workloads', 'objects'] as const, '--level');
      const inventory = await inventoryFromFlags(command, options);
      const graph = buildDependencyGraph(inventory.objects);
      const units = buildUnitGraph(graph, inventory.objects.filter(isWorkload).map(idOf));
      if (format === 'json') {
        process.stdout.write(toJson({ units: units.units, unitEdges: units.edges, nodes: graph.nodes, edges: graph.edges, dangling: graph.dangling }));
        return;
      }
      const renderable = level === 'workloads' ? renderableUnits(units) : renderableObjects(graph);
      process.stdout.write(format === 'dot' ? toDot(renderable) : toMermaid(renderable));
    });
}
