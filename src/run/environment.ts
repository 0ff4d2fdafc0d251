import { KubeConfig } from '../kube/client-node.js';
import { systemClock } from '../analysis/clock.js';
import { parseDuration } from '../analysis/gates-schema.js';
import { PrometheusMetricsProvider } from '../analysis/prometheus.js';
import { applySlice, sourceClient, targetClient } from '../apply/slice.js';
import { SCALABLE_KINDS, autoscaledWorkloads, findSlice, readPlanSource, workloadKey } from '../apply/desired.js';
import { FERRY_DECOMMISSION_MANAGER, FERRY_ROLLBACK_MANAGER } from '../apply/conflicts.js';
import { createDataProvider } from '../data/index.js';
import type { DataProvider } from '../data/provider.js';
import type { Inventory } from '../inventory/load.js';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { KubeObject } from '../kube/object.js';
import type { MigrationPlan, ResourceRef, Slice } from '../plan/schema.js';
import { createTrafficProvider } from '../traffic/index.js';
import { kubeClusterObjects } from '../traffic/cluster-objects.js';
import { FerryError } from '../util/errors.js';
import type { RunEnvironment, SliceServices } from './services.js';

/**
 * Builds the services of each slice from the plan for real clusters: the apply engine on
 * the target, the traffic provider the slice names (with its settings), Prometheus for the
 * judge, PostgreSQL for its data. Secrets in data connection strings come from the
 * environment (`env:NAME`), never from the plan file.
 */
export function planEnvironment(plan: MigrationPlan, options: { kubeconfig?: string; onProgress?: RunEnvironment['onProgress']; control?: RunEnvironment['control'] }): RunEnvironment {
  let inventory: Promise<Inventory> | undefined;
  const services = new Map<string, Promise<SliceServices>>();
  const kubeconfigOption = options.kubeconfig ? { kubeconfig: options.kubeconfig } : {};
  return {
    clock: systemClock,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.control ? { control: options.control } : {}),
    servicesFor(name) {
      let built = services.get(name);
      if (!built) {
        built = build(findSlice(plan, name));
        services.set(name, built);
      }
      return built;
    },
  };

  async function build(slice: Slice): Promise<SliceServices> {
    const provider = slice.traffic?.provider ?? plan.spec.defaults.traffic.provider;
    const traffic = provider === 'none' ? undefined : typeof provider === 'string'
      ? missingSettings(slice, provider)
      : createTrafficProvider(provider, { cluster: kubeClusterObjects(configFor(plan.spec.target.context, plan.spec.target.kubeconfig ?? options.kubeconfig)) });
    const metrics = traffic ? metricsFor(plan, slice, provider) : undefined;
    const data = slice.data ? dataFor(slice) : undefined;
    return {
      apply: async () => {
        // Read once for every slice, and only by a process that applies (not by `ferry rollback`).
        inventory ??= readPlanSource(plan, kubeconfigOption);
        const report = await applySlice(plan, slice.name, { ...kubeconfigOption, inventory: await inventory });
        return { ...report.counts, smoke: report.smoke.length };
      },
      ...(traffic ? { traffic } : {}),
      ...(metrics ? { metrics } : {}),
      ...(data ? { data } : {}),
      decommission: async () => {
        const client = sourceClient(plan, kubeconfigOption);
        if (!client) return { skipped: 'the source is exported YAML' };
        const scaled = await scaleToZero(client, slice.workloads, FERRY_DECOMMISSION_MANAGER).finally(() => client.close());
        const teardown = data ? await data.teardown() : undefined;
        return { scaledToZero: scaled.length, ...(teardown ? { replicationObjectsDropped: teardown.dropped.length } : {}) };
      },
      retireTarget: async () => {
        const client = targetClient(plan, kubeconfigOption);
        try {
          // An autoscaled workload at zero replicas has its HPA switched off, and a re-apply (which
          // leaves replicas to the HPA) would not bring it back: it stays up, serving no traffic.
          const autoscaled = await autoscaledOnTarget(client, slice);
          const kept = slice.workloads.filter((w) => autoscaled.has(workloadKey(w)));
          const scaled = await scaleToZero(client, slice.workloads.filter((w) => !autoscaled.has(workloadKey(w))), FERRY_ROLLBACK_MANAGER);
          return { targetScaledToZero: scaled.length, ...(kept.length > 0 ? { keptForAutoscaler: kept.map(workloadKey) } : {}) };
        } finally {
          client.close();
        }
      },
    };
  }

  function metricsFor(plan: MigrationPlan, slice: Slice, provider: unknown): SliceServices['metrics'] {
    const settings = provider as { type?: string; route?: string };
    if (!plan.spec.metrics) {
      throw new FerryError('plan', `slice ${slice.name} moves traffic but the plan names no metrics to judge it by`, { location: { field: 'spec.metrics' }, fix: 'add spec.metrics: { provider: prometheus, url: http://… } scraping the router' });
    }
    if (settings.type !== 'router' || !settings.route) {
      throw new FerryError('plan', `slice ${slice.name}: the judge reads the embedded router's metrics; ${settings.type} ramps need custom PromQL gates`, { location: { field: `slice ${slice.name} traffic.provider` }, fix: 'route the slice through the embedded router, or judge it with gates.promql' });
    }
    return {
      provider: new PrometheusMetricsProvider({ url: plan.spec.metrics.url, route: settings.route, scrapeIntervalMs: parseDuration(plan.spec.metrics.scrapeInterval) }),
      source: 'source',
      target: 'target',
    };
  }

  function dataFor(slice: Slice): DataProvider {
    const spec = slice.data!;
    return createDataProvider({ kind: 'postgres', name: slice.name.replace(/[^a-z0-9_]/g, '_'), source: { url: resolveSecretRef(spec.source, `slice ${slice.name} data.source`) }, target: { url: resolveSecretRef(spec.target, `slice ${slice.name} data.target`) } });
  }
}

/** Scales the scalable workloads to zero with a merge patch as `fieldManager`; returns their names. */
export async function scaleToZero(client: KubeClient, workloads: readonly ResourceRef[], fieldManager: string): Promise<string[]> {
  const scaled: string[] = [];
  for (const workload of workloads.filter((w) => SCALABLE_KINDS.has(w.kind))) {
    const group = workload.apiVersion.includes('/') ? `/apis/${workload.apiVersion}` : `/api/${workload.apiVersion}`;
    const path = `${group}/namespaces/${workload.namespace ?? 'default'}/${workload.kind.toLowerCase()}s/${workload.name}`;
    await client.request({ method: 'PATCH', path, query: { fieldManager }, body: { spec: { replicas: 0 } }, contentType: 'application/merge-patch+json' });
    scaled.push(workloadKey(workload));
  }
  return scaled;
}

/** Workloads the slice's own HorizontalPodAutoscalers scale, read from the target where they were applied. */
async function autoscaledOnTarget(client: KubeClient, slice: Slice): Promise<Set<string>> {
  const hpas: KubeObject[] = [];
  for (const ref of slice.resources.filter((r) => r.kind === 'HorizontalPodAutoscaler')) {
    const path = `/apis/${ref.apiVersion}/namespaces/${ref.namespace ?? 'default'}/horizontalpodautoscalers/${ref.name}`;
    const hpa = await client.request<KubeObject>({ path }).catch((error: FerryError) => {
      if (error.code === 'http-404') return undefined;
      throw error;
    });
    if (hpa) hpas.push(hpa);
  }
  return autoscaledWorkloads(hpas);
}

function missingSettings(slice: Slice, provider: string): never {
  throw new FerryError('plan', `slice ${slice.name} names the ${provider} traffic provider without its settings`, {
    location: { field: `slice ${slice.name} traffic.provider` },
    fix: `replace "${provider}" with its settings block, e.g. { type: ${provider}, ... } (see \`ferry schema\`)`,
  });
}

/** `env:NAME` reads the environment; anything else is used as it is (plans should not hold passwords). */
export function resolveSecretRef(reference: string, field: string): string {
  if (!reference.startsWith('env:')) return reference;
  const name = reference.slice(4);
  const value = process.env[name];
  if (!value) throw new FerryError('plan', `environment variable ${name} is not set`, { location: { field }, fix: `export ${name}=postgresql://… before running` });
  return value;
}

function configFor(context: string | undefined, kubeconfig: string | undefined): KubeConfig {
  return loadKubeConfig({ ...(context ? { context } : {}), ...(kubeconfig ? { kubeconfig } : {}) });
}
