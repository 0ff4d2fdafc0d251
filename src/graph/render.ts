import type { DependencyGraph, EdgeProvenance } from './model.js';
import type { UnitGraph } from './units.js';
import { rateText } from './observed/model.js';
import { groupBy } from '../util/stable.js';

export type GraphLevel = 'workloads' | 'objects';

/** A graph flattened for rendering: labelled nodes, labelled edges, groups of nodes (namespaces). */
export interface RenderableGraph {
  nodes: Array<{ id: string; label: string; group: string }>;
  edges: Array<{ from: string; to: string; label: string }>;
}

export function renderableUnits(units: UnitGraph): RenderableGraph {
  return {
    nodes: units.units.map((unit) => ({ id: unit.name, label: unit.name, group: unit.namespace })),
    // Declared and shared-config edges say so, for a reviewer to confirm or prune; observed ones give their rate.
    edges: units.edges.map((edge) => ({ from: edge.from, to: edge.to, label: unitLabel(edge.provenance, edge.requestsPerSecond) })),
  };
}

export function renderableObjects(graph: DependencyGraph): RenderableGraph {
  return {
    nodes: graph.nodes.map((id) => {
      const parts = id.split('/');
      return { id, label: parts.length === 3 ? `${parts[0]}/${parts[2]}` : id, group: parts.length === 3 ? parts[1]! : '(cluster)' };
    }),
    edges: graph.edges.map((edge) => ({
      from: edge.from,
      to: edge.to,
      label: edge.observed && edge.reason !== 'observed' ? `${edge.reason} (observed ${rateText(edge.observed.requestsPerSecond)})`
        : edge.observed ? `observed ${rateText(edge.observed.requestsPerSecond)}`
        : edge.provenance === 'static (shared config)' ? `${edge.reason} (shared config)` : edge.reason,
    })),
  };
}

/** Plain static calls stay unlabelled; the others say how they are known, observed ones with their rate. */
function unitLabel(provenance: EdgeProvenance | undefined, requestsPerSecond: number | undefined): string {
  const rate = requestsPerSecond === undefined ? '' : ` ${rateText(requestsPerSecond)}`;
  switch (provenance) {
    case 'declared': return 'declared';
    case 'static (shared config)': return 'shared config';
    case 'observed': return `observed${rate}`;
    case 'static+observed': return `static+observed${rate}`;
    case 'declared+observed': return `declared+observed${rate}`;
    default: return '';
  }
}

/** Mermaid flowchart, namespaces as subgraphs; ids are sanitised because Mermaid ids cannot hold "/". */
export function toMermaid(graph: RenderableGraph): string {
  const ids = new Map(graph.nodes.map((node, i) => [node.id, `n${i}`]));
  const lines = ['flowchart LR'];
  for (const [group, nodes] of groupBy(graph.nodes, (node) => node.group)) {
    lines.push(`  subgraph ${quoteMermaid(group)}`);
    for (const node of nodes) lines.push(`    ${ids.get(node.id)}[${quoteMermaid(node.label)}]`);
    lines.push('  end');
  }
  for (const edge of graph.edges) {
    const label = edge.label ? `|${quoteMermaid(edge.label)}|` : '';
    lines.push(`  ${ids.get(edge.from)} -->${label} ${ids.get(edge.to)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Graphviz DOT, namespaces as clusters. */
export function toDot(graph: RenderableGraph): string {
  const lines = ['digraph ferry {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  let index = 0;
  for (const [group, nodes] of groupBy(graph.nodes, (node) => node.group)) {
    lines.push(`  subgraph cluster_${index++} {`, `    label=${quoteDot(group)};`);
    for (const node of nodes) lines.push(`    ${quoteDot(node.id)} [label=${quoteDot(node.label)}];`);
    lines.push('  }');
  }
  for (const edge of graph.edges) lines.push(`  ${quoteDot(edge.from)} -> ${quoteDot(edge.to)}${edge.label ? ` [label=${quoteDot(edge.label)}]` : ''};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function quoteMermaid(text: string): string {
  return `"${text.replace(/"/g, '#quot;')}"`;
}

function quoteDot(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
