import type { Command } from 'commander';
import type { ObservedEdge } from '../graph/observed/model.js';
import { observeAll, observedSource, OBSERVED_FORMS, parseObserveWindow } from '../graph/observed/sources.js';
import { globalOptions } from './context.js';

/** `--observed` (repeatable), `--observed-window`, `--observed-sample`: shared by graph and plan. */
export function addObservedOptions(command: Command): Command {
  return command
    .option('--observed <source>', `add the calls traffic shows, from: ${OBSERVED_FORMS} (repeatable)`, (value: string, previous: string[] = []) => [...previous, value])
    .option('--observed-window <duration>', 'how far back Prometheus sources count calls', '10m')
    .option('--observed-sample <duration>', 'sources read directly (lab, router) keep no history: the rate is measured between two reads this far apart', '5s');
}

export interface ObservedFlags {
  observed?: string[];
  observedWindow: string;
  observedSample: string;
  context?: string;
  from?: string;
}

/** The edges every `--observed` source shows (none when the flag is absent). */
export async function observedEdgesFromFlags(command: Command, options: ObservedFlags): Promise<{ edges: ObservedEdge[]; sources: string[]; window: string; sample: string; described: string[] } | undefined> {
  const specs = options.observed ?? [];
  if (specs.length === 0) return undefined;
  const window = parseObserveWindow(options.observedWindow, options.observedSample);
  const kubeconfig = globalOptions(command).kubeconfig;
  const context = options.context ?? options.from;
  const sources = specs.map((spec) => observedSource(spec, { ...(context ? { context } : {}), ...(kubeconfig ? { kubeconfig } : {}) }));
  const described = sources.map((source) => source.history === 'window'
    ? `${source.name} (over ${options.observedWindow})`
    : `${source.name} (read directly: counts since its exporter started, rates over ${options.observedSample})`);
  return { edges: await observeAll(sources, window), sources: sources.map((source) => source.name), window: options.observedWindow, sample: options.observedSample, described };
}
