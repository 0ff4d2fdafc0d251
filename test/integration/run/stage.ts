/**
 * The stage most `ferry run` tests stand on, built from real parts: lab clusters (Online
 * Boutique applied to `source` with real kubectl), the router as its own process in front
 * of two backend processes, Prometheus scraping it, and helpers to write a one-slice plan
 * the way a user narrows a generated one, run it as a process, and read its journal.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { BOUTIQUE, ferryAsync, startFerry, type RunningFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { driveLoad, startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from '../analysis/helpers.js';
import { ROUTER_AS_COMPONENT, startRouterProcess, type RouterProcess } from '../traffic/helpers.js';

export const SCRAPE_MS = 500;

export interface RunStage {
  lab: TestLab;
  source: LabBackend;
  target: LabBackend;
  router: RouterProcess;
  prometheus: PrometheusProcess;
  /**
   * Writes a plan of the adservice slice (and the `also` slices in a second wave, without
   * traffic); `edit` changes it as a user would.
   */
  writePlan(name: string, edit?: (plan: any, slice: any) => void, also?: string[]): Promise<string>;
  /** `ferry run` (or another command) as its own process, with the router token in its environment. */
  ferry(args: string[], env?: Record<string, string>): RunningFerry;
  journal(stateDir: string, run: string): any[];
  /** Customer load through the router until `stop()`; resolves with what users saw. */
  load(options?: { rate?: number; method?: (i: number) => 'GET' | 'POST' }): { stop(): Promise<{ requests: number; failed: number; failures: string[] }> };
  route(): Promise<any>;
  stop(): Promise<void>;
}

export async function startRunStage(clusters: string[] = ['source', 'target']): Promise<RunStage> {
  const lab = await startTestLab(clusters);
  if (clusters.includes('source')) {
    const applied = await lab.kubectl(['apply', '--server-side', '--field-manager', 'team-ci', '-f', BOUTIQUE], 'source');
    if (applied.code !== 0) throw new Error(applied.stderr);
  }
  const [source, target] = await Promise.all([startLabBackend('source', ['--error-rate', '0']), startLabBackend('target', ['--error-rate', '0'])]);
  const router = await startRouterProcess({
    backends: { 'old-cluster': { url: source.url }, 'new-cluster': { url: target.url } },
    routes: [{ name: 'ads', match: { pathPrefix: '/' }, source: 'old-cluster', target: 'new-cluster', weight: 0 }],
  }, undefined, ROUTER_AS_COMPONENT);
  const prometheus = await startPrometheus(new URL(router.adminUrl).host, SCRAPE_MS);
  const pool = new Pool(router.url, { connections: 8 });

  return {
    lab, source, target, router, prometheus,
    async writePlan(name, edit, also = []) {
      const from = clusters.includes('source') ? ['--from', 'source'] : ['--manifests', BOUTIQUE];
      const planned = await ferryAsync(['plan', ...from, '--to', 'target', '--kubeconfig', lab.kubeconfigFile, '--name', name, '-o', 'json']);
      if (planned.code !== 0) throw new Error(planned.stderr);
      const plan = JSON.parse(planned.stdout);
      const slice = plan.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'adservice');
      // Narrowed to one slice behind the test's router (a route the user named `ads`).
      const others = plan.spec.waves.flatMap((w: any) => w.slices).filter((s: any) => also.includes(s.name)).map((s: any) => ({ ...s, dependsOn: [], traffic: { provider: 'none' } }));
      plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], traffic: { provider: { type: 'router', adminUrl: router.adminUrl, route: 'ads' } } }] }];
      if (others.length > 0) plan.spec.waves.push({ name: 'wave-2', slices: others });
      plan.spec.metrics = { provider: 'prometheus', url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` };
      plan.spec.defaults.traffic.steps = [50, 100];
      plan.spec.defaults.traffic.stepWindow = '2s';
      plan.spec.defaults.traffic.mirror = { percent: 0 };
      plan.spec.defaults.gates.minRequests = 20;
      plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
      plan.spec.defaults.decommission.after = '0s';
      plan.spec.defaults.rollback.keepSourceFor = '0s';
      edit?.(plan, plan.spec.waves[0].slices[0]);
      const file = join(lab.dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(plan));
      return file;
    },
    ferry: (args, env = {}) => startFerry([...args, '--kubeconfig', lab.kubeconfigFile], { FERRY_ROUTER_TOKEN: router.token, ...env }),
    journal: (stateDir, run) => readFileSync(join(stateDir, 'runs', run, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)),
    load(options = {}) {
      let stopped = false;
      const failures: string[] = [];
      let i = 0;
      const send = async () => {
        const method = options.method?.(i++) ?? 'GET';
        const response = await pool.request({ method, path: '/', headers: { 'x-user': `user-${i % 97}` }, ...(method === 'POST' ? { body: '{}' } : {}) });
        const body = await response.body.text();
        if (response.statusCode >= 500) failures.push(`${response.statusCode} ${body.slice(0, 100)}`);
        return response.statusCode;
      };
      const done = driveLoad(send, options.rate ?? 100, 120_000, () => stopped);
      return {
        async stop() {
          stopped = true;
          return { ...(await done), failures };
        },
      };
    },
    route: async () => (await fetch(`${router.adminUrl}/routes/ads`)).json(),
    async stop() {
      await pool.close();
      await prometheus.stop();
      await router.stop();
      await Promise.all([source.kill(), target.kill()]);
      await lab.stop();
    },
  };
}

/** Sets the route back to the source between runs (a previous run may have ended at 100 %). */
export async function resetRoute(stage: RunStage): Promise<void> {
  await fetch(`${stage.router.adminUrl}/routes/ads/weight`, { method: 'PUT', headers: { authorization: `Bearer ${stage.router.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 0 }) });
}
