import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { JournalRecord } from '../journal/record.js';
import type { KubeObject } from '../kube/object.js';
import { callGraphManifests } from '../lab/workloads/topologies.js';
import type { MigrationPlan } from '../plan/schema.js';

/**
 * The demo's second application: eleven services in Online Boutique's shape built from the
 * call-graph app, which answers each request with the tree of hops that served it — so every
 * answer says which cluster served every call, and which calls crossed clusters.
 */
export const BOUTIQUE_HOST = 'boutique.demo';
export const BOUTIQUE_NAMESPACE = 'boutique';

export function boutiqueManifests(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: BOUTIQUE_NAMESPACE } },
    ...callGraphManifests({ namespace: BOUTIQUE_NAMESPACE }),
    {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'frontend', namespace: BOUTIQUE_NAMESPACE, labels: { app: 'frontend' } },
      spec: { rules: [{ host: BOUTIQUE_HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'frontend', port: { number: 80 } } } }] } }] },
    },
  ];
}

/** One answer of the call-graph app: who served, and the answers of everyone it called. */
export interface Hop {
  service: string;
  cluster: string;
  calls?: Hop[];
}

/** Calls that crossed clusters in one answer, as `from→to direction` in the plan's words. */
export function crossings(tree: Hop | undefined): Set<string> {
  const found = new Set<string>();
  const walk = (hop: Hop) => {
    for (const child of hop.calls ?? []) {
      if (child.cluster !== hop.cluster) found.add(`${hop.service}→${child.service} ${hop.cluster === 'target' ? 'target→source' : 'source→target'}`);
      walk(child);
    }
  };
  if (tree) walk(tree);
  return found;
}

/** Every cluster that served a hop of the answer. */
export function clustersOf(tree: Hop | undefined): Set<string> {
  const found = new Set<string>();
  const walk = (hop: Hop) => {
    found.add(hop.cluster);
    for (const child of hop.calls ?? []) walk(child);
  };
  if (tree) walk(tree);
  return found;
}

export interface CallAnswer {
  at: number;
  status: number;
  tree?: Hop;
  error?: string;
}

export interface WaveCrossings {
  wave: string;
  /** The plan's crossClusterCalls of the wave. */
  planned: string[];
  /** Crossings seen in answers while the application stood as the wave left it. */
  observed: string[];
  answers: number;
}

/**
 * Per wave, the calls seen crossing clusters between the moment its sources left service
 * (the soak of its slices) and the next wave's first apply — the application as the plan
 * says it is after that wave — beside the plan's own list.
 */
export function waveCrossings(plan: MigrationPlan, records: readonly JournalRecord[], answers: readonly CallAnswer[], settleMs = 1_500): WaveCrossings[] {
  const at = (type: string, slice: string, stage: string) => {
    const record = records.filter((r) => r.type === type && r.data.slice === slice && r.data.stage === stage).at(-1);
    return record ? Date.parse(record.at) : undefined;
  };
  return plan.spec.waves.map((wave, w) => {
    const from = Math.max(...wave.slices.map((slice) => at('stage-started', slice.name, 'soak') ?? 0)) + settleMs;
    const next = plan.spec.waves[w + 1];
    const to = next ? Math.min(...next.slices.map((slice) => at('stage-started', slice.name, 'apply') ?? Infinity)) : Infinity;
    const steady = answers.filter((answer) => answer.at >= from && answer.at + 1_000 <= to && answer.tree);
    const observed = new Set<string>();
    for (const answer of steady) for (const crossing of crossings(answer.tree)) observed.add(crossing);
    return {
      wave: wave.name,
      planned: wave.crossClusterCalls.map((call) => `${call.from}→${call.to} ${call.direction}`).sort(),
      observed: [...observed].sort(),
      answers: steady.length,
    };
  });
}

/** One user request: the answer's hop tree, or what failed. */
export async function callApplication(pool: Pool, host?: string): Promise<CallAnswer> {
  const at = Date.now();
  try {
    const response = await pool.request({ method: 'GET', path: '/', headers: host ? { host } : {}, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await response.body.text();
    let tree: Hop | undefined;
    try {
      tree = JSON.parse(text) as Hop;
    } catch {
      tree = undefined;
    }
    return { at, status: response.statusCode, ...(tree ? { tree } : {}), ...(response.statusCode >= 500 ? { error: text.slice(0, 1500) } : {}) };
  } catch (error) {
    return { at, status: 0, error: (error as Error).message };
  }
}

export interface CallLoad {
  /** Every answer so far (kept whole: the trees are what the scorecard reads). */
  answers: CallAnswer[];
  stop(): Promise<CallAnswer[]>;
}

/** Users of the application: GETs through `url` with `host`, at `ratePerSecond`, bounded in time and count. */
export function startCallLoad(options: { url: string; host?: string; ratePerSecond: number; maxSeconds: number; maxRequests: number }): CallLoad {
  const pool = new Pool(options.url, { connections: 16 });
  const answers: CallAnswer[] = [];
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let issued = 0;
  const one = async () => {
    answers.push(await callApplication(pool, options.host));
  };
  const loop = (async () => {
    while (!stopped && issued < options.maxRequests && performance.now() - started < options.maxSeconds * 1000) {
      const due = Math.floor(((performance.now() - started) * options.ratePerSecond) / 1000);
      while (issued < due && inFlight.size < 256) {
        issued++;
        const request: Promise<void> = one().finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(inFlight);
  })();
  return {
    answers,
    async stop() {
      stopped = true;
      await loop;
      await pool.close();
      return answers;
    },
  };
}
