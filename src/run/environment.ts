import { KubeConfig } from '../kube/client-node.js';
import { systemClock } from '../analysis/clock.js';
import { parseDuration } from '../analysis/gates-schema.js';
import { PrometheusMetricsProvider } from '../analysis/prometheus.js';
import { applySlice, targetClient } from '../apply/slice.js';
import { autoscaledWorkloads, findSlice, readPlanSource } from '../apply/desired.js';
import { FERRY_DECOMMISSION_MANAGER, FERRY_ROLLBACK_MANAGER } from '../apply/conflicts.js';
import { createDataProvider } from '../data/index.js';
import type { DataProvider } from '../data/provider.js';
import type { Inventory } from '../inventory/load.js';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { MigrationPlan, Slice } from '../plan/schema.js';
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
    inventory ??= readPlanSource(plan, kubeconfigOption);
    const provider = slice.traffic?.provider ?? plan.spec.defaults.traffic.provider;
    const traffic = provider === 'none' ? undefined : typeof provider === 'string'
      ? missingSettings(slice, provider)
      : createTrafficProvider(provider, { cluster: kubeClusterObjects(configFor(plan.spec.target.context, plan.spec.target.kubeconfig ?? options.kubeconfig)) });
    const metrics = traffic ? metricsFor(plan, slice, provider) : undefined;
    const data = slice.data ? dataFor(slice) : undefined;
    return {
      apply: async () => {
        const report = await applySlice(plan, slice.name, { ...kubeconfigOption, inventory: await inventory! });
        return { ...report.counts, smoke: report.smoke.length };
      },
      ...(traffic ? { traffic } : {}),
      ...(metrics ? { metrics } : {}),
      ...(data ? { data } : {}),
      decommission: async () => {
        const source = plan.spec.source.context;
        if (!source || plan.spec.source.manifests) return { skipped: 'the source is exported YAML' };
        const client = new KubeClient(loadKubeConfig({ context: source, ...(plan.spec.source.kubeconfig ?? options.kubeconfig ? { kubeconfig: (plan.spec.source.kubeconfig ?? options.kubeconfig)! } : {}) }));
        for (const workload of slice.workloads.filter((w) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(w.kind))) {
          const group = workload.apiVersion.includes('/') ? `/apis/${workload.apiVersion}` : `/api/${workload.apiVersion}`;
          await client.request({ method: 'PATCH', path: `${group}/namespaces/${workload.namespace}/${workload.kind.toLowerCase()}s/${workload.name}`, query: { fieldManager: FERRY_DECOMMISSION_MANAGER }, body: { spec: { replicas: 0 } }, contentType: 'application/merge-patch+json' });
        }
        const teardown = data ? await data.teardown() : undefined;
        return { scaledToZero: slice.workloads.length, ...(teardown ? { replicationObjectsDropped: teardown.dropped.length } : {}) };
      },
      retireTarget: async () => {
        const client = targetClient(plan, kubeconfigOption);
        // An autoscaled workload at zero replicas has its HPA switched off, and a re-apply (which
        // leaves replicas to the HPA) would not bring it back: it stays up, serving no traffic.
        const autoscaled = autoscaledWorkloads((await inventory!).objects);
        const keptForAutoscaler: string[] = [];
        for (const workload of slice.workloads.filter((w) => ['Deployment', 'StatefulSet'].includes(w.kind))) {
          const name = `${workload.kind} ${workload.namespace ?? 'default'}/${workload.name}`;
          if (autoscaled.has(name)) {
            keptForAutoscaler.push(name);
            continue;
          }
          await client.request({ method: 'PATCH', path: `/apis/${workload.apiVersion}/namespaces/${workload.namespace}/${workload.kind.toLowerCase()}s/${workload.name}`, query: { fieldManager: FERRY_ROLLBACK_MANAGER }, body: { spec: { replicas: 0 } }, contentType: 'application/merge-patch+json' });
        }
        return { targetScaledToZero: slice.workloads.length - keptForAutoscaler.length, ...(keptForAutoscaler.length > 0 ? { keptForAutoscaler } : {}) };
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
