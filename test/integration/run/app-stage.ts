/**
 * A whole application on two lab clusters, for `ferry run` tests of many slices that call
 * each other: the call-graph app in Online Boutique's shape (eleven services, a StatefulSet
 * reached by pod DNS) applied to `source` with real kubectl, each cluster's ingress in front
 * of its frontend, the router as the global load balancer in front of both ingresses,
 * Prometheus scraping the router and both clusters' service networking, and users whose
 * every answer is the tree of hops that served it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { callGraphManifests } from '../../../src/lab/workloads/topologies.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { ferryAsync, startFerry, type RunningFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { startPrometheus, type PrometheusProcess } from '../analysis/helpers.js';
import { callApplication, startCallLoad, type CallAnswer } from '../../../src/demo/boutique.js';
import { ROUTER_AS_COMPONENT, startRouterProcess, type RouterProcess } from '../traffic/helpers.js';

export const SCRAPE_MS = 500;
export const NAMESPACE = 'shop';

export type { Hop } from '../../../src/demo/boutique.js';
export { clustersOf, crossings } from '../../../src/demo/boutique.js';
export type Answer = CallAnswer;

export interface AppStage {
  lab: TestLab;
  router: RouterProcess;
  prometheus: PrometheusProcess;
  /** `ferry plan --from source` of the whole app, made runnable the way a user would edit it. */
  writePlan(name: string, edit?: (plan: any) => void, planArgs?: string[]): Promise<{ file: string; plan: any }>;
  ferry(args: string[]): RunningFerry;
  journal(stateDir: string, run: string): any[];
  /** Users through the router until `stop()`; every answer kept with its hop tree. */
  load(rate?: number): { answers: Answer[]; stop(): Promise<Answer[]> };
  /** One request now. */
  probe(): Promise<Answer>;
  kubectl(args: string[], context: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export function appManifests(extra: KubeObject[] = [], protocol: 'http' | 'grpc' = 'http'): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    ...callGraphManifests({ namespace: NAMESPACE, protocol }),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: NAMESPACE, labels: { app: 'frontend' } },
      spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'frontend', port: { number: 80 } } } }] } }] },
    },
    ...extra,
  ];
}

/** `protocol: 'grpc'`: the services call each other over gRPC (users still reach the frontend over HTTP). */
export async function startAppStage(options: { extra?: KubeObject[]; protocol?: 'http' | 'grpc' } = {}): Promise<AppStage> {
  // Both clusters serve Istio's networking types, as clusters with a mesh installed do (internal ramps write them).
  const lab = await startTestLab(['source', 'target'], 'processes', { mesh: true });
  const stops: Array<() => Promise<unknown>> = [() => lab.stop()];
  try {
    const file = join(lab.dir, 'app.yaml');
    writeFileSync(file, appManifests(options.extra, options.protocol).map((object) => stringify(object)).join('---\n'));
    const applied = await lab.kubectl(['apply', '--server-side', '--field-manager', 'team-ci', '-f', file], 'source');
    if (applied.code !== 0) throw new Error(applied.stderr);
    for (const kind of ['deployment', 'statefulset']) {
      const ready = await lab.kubectl(['rollout', 'status', kind, '-n', NAMESPACE, '--timeout=120s'], 'source');
      if (ready.code !== 0) throw new Error(`${kind}s did not become ready: ${ready.stderr}`);
    }
    const [source, target] = lab.clusters;
    const router = await startRouterProcess({
      backends: { 'old-cluster': { url: source!.ingress!.url }, 'new-cluster': { url: target!.ingress!.url } },
      routes: [{ name: 'shop', match: { pathPrefix: '/' }, source: 'old-cluster', target: 'new-cluster', weight: 0 }],
    }, undefined, ROUTER_AS_COMPONENT);
    stops.unshift(() => router.stop());
    const networkJob = (cluster: (typeof lab.clusters)[number]) => {
      const url = new URL(cluster.network!.metricsUrl);
      return { job: `lab-network-${cluster.name}`, targets: [url.host], metricsPath: url.pathname };
    };
    const prometheus = await startPrometheus([
      { job: 'ferry-router', targets: [new URL(router.adminUrl).host] },
      networkJob(source!),
      networkJob(target!),
    ], SCRAPE_MS);
    stops.unshift(() => prometheus.stop());
    const pool = new Pool(router.url, { connections: 16 });
    stops.unshift(() => pool.close());

    const probe = (): Promise<Answer> => callApplication(pool);

    return {
      lab, router, prometheus,
      async writePlan(name, edit, planArgs = []) {
        const planned = await ferryAsync(['plan', '--from', 'source', '--to', 'target', '--kubeconfig', lab.kubeconfigFile, '--name', name, '-o', 'json', ...planArgs]);
        if (planned.code !== 0) throw new Error(planned.stderr);
        const plan = JSON.parse(planned.stdout);
        const frontend = plan.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'frontend');
        frontend.traffic = { provider: { type: 'router', adminUrl: router.adminUrl, route: 'shop' } };
        plan.spec.metrics = { provider: 'prometheus', url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` };
        plan.spec.defaults.traffic.steps = [50, 100];
        plan.spec.defaults.traffic.stepWindow = '2s';
        plan.spec.defaults.traffic.mirror = { percent: 0 };
        plan.spec.defaults.gates.minRequests = 10;
        // Both clusters' 22 processes share this machine's two cores with the rest of the suite: at
        // 100 % a target's new processes take all the calls its source shared, and the p99 gate then
        // measures the machine (a CI run: ×2.0, 74 samples, no error). Errors are judged as generated;
        // latency judging is tested in test/integration/analysis.
        delete plan.spec.defaults.gates.latency;
        plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
        plan.spec.defaults.decommission.after = '3s';
        plan.spec.defaults.rollback.keepSourceFor = '0s';
        edit?.(plan);
        const file = join(lab.dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(plan));
        return { file, plan };
      },
      ferry: (args) => startFerry([...args, '--kubeconfig', lab.kubeconfigFile], { FERRY_ROUTER_TOKEN: router.token }),
      journal: (stateDir, run) => readFileSync(join(stateDir, 'runs', run, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)),
      load(rate = 8) {
        return startCallLoad({ url: router.url, ratePerSecond: rate, maxSeconds: 600, maxRequests: 6_000 });
      },
      probe,
      kubectl: (args, context) => lab.kubectl(args, context),
      async stop() {
        for (const stop of stops) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw error;
  }
}
