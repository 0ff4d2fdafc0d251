import { systemClock } from '../analysis/clock.js';
import { parseDuration } from '../analysis/gates-schema.js';
import { metricsForSlice } from '../analysis/index.js';
import { observedCallers } from '../analysis/call-telemetry.js';
import { applySlice, sourceClient, targetClient } from '../apply/slice.js';
import { findSlice, readPlanSource } from '../apply/desired.js';
import { createClientAccess } from '../data/client-access/index.js';
import { createDataProvider } from '../data/index.js';
import type { DataProvider } from '../data/provider.js';
import type { Inventory } from '../inventory/load.js';
import type { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { MigrationPlan, Slice } from '../plan/schema.js';
import { createTrafficProvider } from '../traffic/index.js';
import { kubeClusterObjects } from '../traffic/cluster-objects.js';
import type { TrafficProvider } from '../traffic/provider.js';
import { FerryError } from '../util/errors.js';
import { FIELD_MANAGER } from '../apply/apply.js';
import { resolveReference } from './references.js';
import { createRunBridges, type RunBridges } from './bridges.js';
import { bridgeClusters, createServiceBridge } from '../bridge/factory.js';
import type { BridgesSettings } from '../bridge/schema.js';
import type { RunEnvironment, SliceServices } from './services.js';
import { effectiveSlice } from './slice-settings.js';
import { restoreSource, retireSource, retireTarget } from './source-lifecycle.js';
import { heldWorkloads, holdRecreated, switchSingletons } from './singletons.js';
import { workloadKey } from '../apply/desired.js';
import { createSliceHandover } from '../handover/index.js';

export interface PlanEnvironmentOptions {
  kubeconfig?: string;
  parallel?: number;
  onProgress?: RunEnvironment['onProgress'];
  control?: RunEnvironment['control'];
  /** Where `env:` references and provider tokens are read; process.env by default. */
  env?: Record<string, string | undefined>;
}

/**
 * Builds the services of each slice from the plan alone — the same for a user's clusters,
 * the lab and `ferry demo`: the apply engine on the target, the traffic provider the slice
 * names (any product), its metrics read through the plan's Prometheus, PostgreSQL for its
 * data and the way applications reach it. Secrets come from `env:` or `secret:` references,
 * never from the plan file.
 */
export function planEnvironment(plan: MigrationPlan, options: PlanEnvironmentOptions = {}): RunEnvironment {
  const env = options.env ?? process.env;
  const kubeconfigOption = options.kubeconfig ? { kubeconfig: options.kubeconfig } : {};
  let inventory: Promise<Inventory> | undefined;
  const services = new Map<string, Promise<SliceServices>>();
  const clients = new Map<'source' | 'target', KubeClient | undefined>();
  const closers: Array<() => Promise<unknown>> = [];
  const clusterClient = (side: 'source' | 'target'): KubeClient | undefined => {
    if (!clients.has(side)) clients.set(side, side === 'source' ? sourceClient(plan, kubeconfigOption) : targetClient(plan, kubeconfigOption));
    return clients.get(side);
  };
  const readyTimeoutMs = parseDuration(plan.spec.defaults.readyTimeout);
  const bridges = runBridgesFor(plan, clusterClient);

  return {
    clock: systemClock,
    ...(options.parallel ? { parallel: options.parallel } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.control ? { control: options.control } : {}),
    ...(bridges ? { bridges } : {}),
    servicesFor(name) {
      let built = services.get(name);
      if (!built) {
        built = build(findSlice(plan, name));
        services.set(name, built);
      }
      return built;
    },
    async close() {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      for (const client of clients.values()) client?.close();
      clients.clear();
    },
  };

  async function build(slice: Slice): Promise<SliceServices> {
    const settings = effectiveSlice(plan, slice);
    const traffic = trafficFor(slice);
    if (traffic && settings.stickiness && !traffic.setStickiness) {
      throw new FerryError('plan.stickiness', `slice ${slice.name}: the ${traffic.type} provider cannot be told how to keep users on one side`, {
        location: { field: `slice ${slice.name} traffic.stickiness` },
        fix: traffic.capabilities.sticky ? `configure stickiness in ${traffic.type} itself and remove traffic.stickiness` : 'remove traffic.stickiness, or route the slice through the embedded router',
      });
    }
    const metrics = traffic ? metricsForSlice({
      metrics: plan.spec.metrics,
      traffic: settings.providerSettings!,
      ...(slice.traffic?.queries ?? plan.spec.defaults.traffic.queries ? { queries: (slice.traffic?.queries ?? plan.spec.defaults.traffic.queries)! } : {}),
      clusters: { ...(plan.spec.source.context ? { source: plan.spec.source.context } : {}), ...(plan.spec.target.context ? { target: plan.spec.target.context } : {}) },
      sliceName: slice.name,
    }) : undefined;
    const data = slice.data ? await dataFor(slice) : undefined;
    // A Service or ExternalName only steers new connections: sessions left on the old database are ended.
    const access = slice.data?.clientAccess ? createClientAccess(slice.data.clientAccess, {
      clusters: { ...optionalClient('source'), ...optionalClient('target') },
      env,
      ...(data?.disconnectApplications ? { disconnect: (side: 'source' | 'target') => data.disconnectApplications!(side) } : {}),
    }) : undefined;
    if (access) closers.push(() => access.close());
    return {
      apply: async (deferral) => {
        // Read once for every slice, and only by a process that applies (not by `ferry rollback`).
        inventory ??= readPlanSource(plan, kubeconfigOption);
        const report = await applySlice(plan, slice.name, { ...kubeconfigOption, inventory: await inventory, ...(deferral ?? {}) });
        return { ...report.counts, smoke: report.smoke.length };
      },
      ...(traffic ? { traffic } : {}),
      ...(metrics ? { metrics } : {}),
      ...(data ? { data } : {}),
      ...(access ? { repointData: (side) => access.pointTo(side) } : {}),
      ...(plan.spec.metrics ? {
        telemetryDelayMs: parseDuration(plan.spec.metrics.scrapeInterval),
        sourceCallers: (windowSeconds: number, query?: string) => observedCallers({
          prometheusUrl: plan.spec.metrics!.url,
          workloads: slice.workloads.map((workload) => workload.name),
          namespace: slice.workloads[0]?.namespace ?? slice.namespace ?? 'default',
          cluster: plan.spec.source.context ?? 'source',
          windowSeconds,
          at: Date.now(),
          ...(query ? { query } : {}),
        }),
      } : {}),
      decommission: async (what) => {
        const client = clusterClient('source');
        if (!client) return { scaledToZero: {}, deleted: [], skipped: 'the source is exported YAML' };
        const report = await retireSource(client, slice, what, what.keepServices);
        const teardown = data ? await data.teardown() : undefined;
        return { ...report, ...(teardown ? { replicationObjectsDropped: teardown.dropped.length } : {}) };
      },
      restoreSource: async (report) => {
        const source = clusterClient('source');
        if (!source) return { skipped: 'the source is exported YAML' };
        // Singletons Ferry holds at 0 on the source come back at the switch, never beside the target's.
        const held = await heldWorkloads(source, slice);
        const restored = await restoreSource(source, clusterClient('target')!, held.size > 0 ? { ...slice, workloads: slice.workloads.filter((w) => !held.has(workloadKey(w))) } : slice, report, readyTimeoutMs);
        await holdRecreated(source, slice, (restored.recreated as string[] | undefined) ?? []);
        return restored;
      },
      switchSingletons: (side) => switchSingletons(side, { source: clusterClient('source'), target: clusterClient('target')! }, slice),
      retireTarget: () => retireTarget(clusterClient('target')!, slice),
      handover: createSliceHandover({ slice, source: () => clusterClient('source'), externalDns: plan.spec.externalDns, env }),
    };
  }

  function optionalClient(side: 'source' | 'target'): Partial<Record<'source' | 'target', KubeClient>> {
    const client = clusterClient(side);
    return client ? { [side]: client } : {};
  }

  function trafficFor(slice: Slice): TrafficProvider | undefined {
    const provider = slice.traffic?.provider ?? plan.spec.defaults.traffic.provider;
    if (provider === 'none') return undefined;
    if (typeof provider === 'string') {
      throw new FerryError('plan', `slice ${slice.name} names the ${provider} traffic provider without its settings`, {
        location: { field: `slice ${slice.name} traffic.provider` },
        fix: `replace "${provider}" with its settings block, e.g. { type: ${provider}, ... } (see \`ferry schema\`), or generate them with \`ferry plan --traffic ${provider} …\``,
      });
    }
    const needsCluster = provider.type === 'istio' || provider.type === 'gateway-api' || provider.type === 'ingress-nginx';
    const context = plan.spec.target.context;
    const kubeconfig = plan.spec.target.kubeconfig ?? options.kubeconfig;
    const cluster = needsCluster ? kubeClusterObjects(loadKubeConfig({ ...(context ? { context } : {}), ...(kubeconfig ? { kubeconfig } : {}) })) : undefined;
    return createTrafficProvider(provider, { ...(cluster ? { cluster } : {}), env });
  }

  async function dataFor(slice: Slice): Promise<DataProvider> {
    const spec = slice.data!;
    const source = () => clusterClient('source');
    const [sourceUrl, targetUrl] = await Promise.all([
      resolveReference(spec.source, `slice ${slice.name} data.source`, source, env),
      resolveReference(spec.target, `slice ${slice.name} data.target`, source, env),
    ]);
    const provider = createDataProvider({ kind: 'postgres', name: slice.name.replace(/[^a-z0-9_]/g, '_'), source: { url: sourceUrl }, target: { url: targetUrl }, ...(spec.schemas ? { schemas: spec.schemas } : {}) });
    closers.push(() => provider.close());
    return provider;
  }
}

/**
 * Bridges for calls between slices on different clusters (spec.bridges; endpoints by
 * default). Both clusters must be live: with a source read from files there is nothing to
 * bridge to.
 */
function runBridgesFor(plan: MigrationPlan, clientOf: (side: 'source' | 'target') => KubeClient | undefined): RunBridges | undefined {
  const settings: Partial<BridgesSettings> = plan.spec.bridges ?? {};
  const provider = settings.provider ?? 'endpoints';
  if (provider === 'none' || !plan.spec.source.context) return undefined;
  const calls = plan.spec.waves.some((wave) => wave.slices.some((slice) => slice.dependsOn.length > 0));
  if (!calls) return undefined;
  let built: RunBridges | undefined;
  // Clients are made on first use: a plan whose slices never split callers from callees opens nothing.
  const lazy = (): RunBridges => {
    if (!built) {
      const clusters = bridgeClusters({ source: clientOf('source')!, target: clientOf('target')! });
      const bridge = createServiceBridge(provider, clusters, { ...(settings.mcs ? { mcs: settings.mcs } : {}), ...(settings.istio ? { istio: settings.istio } : {}) });
      built = createRunBridges({
        plan, bridge, clusters, settings,
        // Applied as the slice apply's own field manager, so the namespace the plan's prerequisites apply later is the same object.
        ensureNamespace: async (side, namespace) => {
          const client = clientOf(side)!;
          const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
          const exists = await client.request({ path }).then(() => true, (error: FerryError) => (error.code === 'http-404' ? false : Promise.reject(error)));
          if (!exists) await client.request({ method: 'PATCH', path, query: { fieldManager: FIELD_MANAGER }, body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, contentType: 'application/apply-patch+yaml' });
        },
      });
    }
    return built;
  };
  return {
    reconcile: (...args) => lazy().reconcile(...args),
    bridged: (...args) => lazy().bridged(...args),
    replace: (...args) => lazy().replace(...args),
  };
}
