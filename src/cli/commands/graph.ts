import type { Command } from 'commander';
import { buildDependencyGraph } from '../../graph/build.js';
import { idOf } from '../../graph/model.js';
import { graphDiff, type GraphDiff } from '../../graph/observed/diff.js';
import { mergeObserved } from '../../graph/observed/merge.js';
import { rateText } from '../../graph/observed/model.js';
import { isWorkload } from '../../graph/pod-spec.js';
import { renderableObjects, renderableUnits, toDot, toMermaid } from '../../graph/render.js';
import { buildUnitGraph } from '../../graph/units.js';
import { FerryError } from '../../util/errors.js';
import { renderTable, toJson } from '../../util/output.js';
import { parseOutputFormat } from '../context.js';
import { addObservedOptions, observedEdgesFromFlags } from '../observed.js';
import { addSourceOptions, inventoryFromFlags } from '../sources.js';

export function register(program: Command): void {
  addObservedOptions(addSourceOptions(program.command('graph').description('print the dependency graph: which workloads call which, and what they use')))
    .option('-o, --output <format>', 'mermaid, dot or json (with --diff: table or json)')
    .option('--level <level>', 'workloads (units that move together) or objects', 'workloads')
    .option('--diff', 'with --observed: calls seen in traffic that no manifest names, and static calls never seen in traffic')
    .action(async (options, command: Command) => {
      const level = parseOutputFormat(options.level, ['workloads', 'objects'] as const, '--level');
      if (options.diff && !(options.observed?.length > 0)) {
        throw new FerryError('usage', '--diff compares the manifests with traffic, and no --observed source was given', { location: { field: '--diff' }, fix: 'add --observed lab, --observed prometheus=URL, --observed linkerd=URL or --observed router=URL' });
      }
      const format = options.diff ? parseOutputFormat(options.output ?? 'table', ['table', 'json'] as const) : parseOutputFormat(options.output ?? 'mermaid', ['mermaid', 'dot', 'json'] as const);
      const inventory = await inventoryFromFlags(command, options);
      const workloads = inventory.objects.filter(isWorkload).map(idOf);
      let graph = buildDependencyGraph(inventory.objects);
      const traffic = await observedEdgesFromFlags(command, options);
      const observed = traffic ? mergeObserved(graph, workloads, traffic.edges) : undefined;
      if (observed) graph = observed.graph;
      if (options.diff) {
        const diff = graphDiff(observed!, workloads, { window: traffic!.window, sources: traffic!.sources, described: traffic!.described });
        process.stdout.write(format === 'json' ? toJson(diff) : diffTable(diff));
        return;
      }
      const units = buildUnitGraph(graph, workloads);
      if (format === 'json') {
        process.stdout.write(toJson({
          units: units.units, unitEdges: units.edges, nodes: graph.nodes, edges: graph.edges, dangling: graph.dangling,
          ...(observed ? { observed: { window: traffic!.window, sample: traffic!.sample, sources: traffic!.sources, described: traffic!.described, calls: observed.calls, outside: observed.outside, unmatched: observed.unmatched } } : {}),
        }));
        return;
      }
      const renderable = level === 'workloads' ? renderableUnits(units) : renderableObjects(graph);
      process.stdout.write(format === 'dot' ? toDot(renderable) : toMermaid(renderable));
    });
}

function diffTable(diff: GraphDiff): string {
  const short = (id: string) => id.split('/').slice(1).join('/') || id;
  const parts = [`Traffic from ${diff.described.join(', ')}, against the manifests.\n`];
  parts.push(`\nSeen in traffic, in no manifest (${diff.observedOnly.length}):\n`);
  parts.push(diff.observedOnly.length === 0 ? '  none\n' : renderTable(['FROM', 'TO', 'RATE', 'REQUESTS', 'PROTOCOL', 'SOURCE'], diff.observedOnly.map((call) => [short(call.from), short(call.to), rateText(call.traffic.requestsPerSecond), call.traffic.requests, call.traffic.protocols.join(','), call.traffic.sources.join(', ')])));
  parts.push(`\nIn the manifests, never seen in traffic (${diff.neverSeen.length}):\n`);
  parts.push(diff.neverSeen.length === 0 ? '  none\n' : renderTable(['FROM', 'TO', 'PROVENANCE', 'EVIDENCE', 'NOTE'], diff.neverSeen.map((edge) => [
    short(edge.from),
    edge.to,
    edge.provenance,
    edge.evidence[0] ? `${edge.evidence[0].field}: ${edge.evidence[0].text}${edge.evidence.length > 1 ? ` (+${edge.evidence.length - 1})` : ''}` : edge.reason,
    edge.callerInTelemetry ? 'likely dead configuration' : 'caller not in the telemetry: cannot tell',
  ])));
  if (diff.unmatched.length > 0) {
    parts.push(`\nIn traffic, naming workloads not in the inventory (${diff.unmatched.length}):\n`);
    parts.push(renderTable(['FROM', 'TO', 'RATE', 'SOURCE'], diff.unmatched.map((edge) => [edge.from, edge.to, rateText(edge.requestsPerSecond), edge.source])));
  }
  return parts.join('');
}
