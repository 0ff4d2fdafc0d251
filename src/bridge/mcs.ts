import type { KubeObject } from '../kube/object.js';
import { allContainers, podTemplate } from '../graph/pod-spec.js';
import { hostReferences, serviceForHost } from '../graph/service-refs.js';
import { FerryError } from '../util/errors.js';
import { BRIDGE_LABEL, bridgeLabels, bridgeName, serviceFqdn, type BridgeObjectRef, type BridgeRecord, type BridgeSpec, type ClusterSide, type ServiceBridge } from './bridge.js';
import type { BridgeClusters, BridgeObjects } from './cluster.js';

export const MCS_API_VERSION = 'multicluster.x-k8s.io/v1alpha1';

export interface McsBridgeConfig {
  /**
   * Write the ServiceImport on the callers' cluster. Off by default: MCS implementations
   * (Submariner's Lighthouse, GKE) create it from the ServiceExport, and a second writer fights
   * them. Turn on only for a clusterset with no such controller.
   */
  createServiceImport?: boolean;
}

type Obj = Record<string, any>;

/**
 * The Multi-Cluster Services API (KEP-1645): a ServiceExport beside the callee's Service on the
 * serving cluster makes the clusterset import it, and callers reach it as
 * `<svc>.<ns>.svc.clusterset.local`. MCS never redirects `cluster.local` names, so `ensure`
 * warns, per caller, about each reference it finds that uses one.
 * https://github.com/kubernetes/enhancements/tree/master/keps/sig-multicluster/1645-multi-cluster-services-api
 */
export class McsBridge implements ServiceBridge {
  readonly type = 'mcs' as const;

  constructor(private readonly clusters: BridgeClusters, private readonly config: McsBridgeConfig = {}) {}

  async ensure(spec: BridgeSpec): Promise<BridgeRecord> {
    const serving = this.clusters[spec.servingCluster];
    const service = await serving.get({ apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service });
    if (!service) {
      throw new FerryError('bridge', `${bridgeName(spec)} is not on the ${spec.servingCluster} cluster ("${serving.context}"), which serves it: a ServiceExport exports an existing Service`, {
        location: { object: `Service ${spec.namespace}/${spec.service}` },
        fix: `apply the callee's slice to the ${spec.servingCluster} cluster first, or check the plan's crossClusterCalls`,
      });
    }
    const objects: BridgeObjectRef[] = [await ensureOwned(serving, spec.servingCluster, {
      apiVersion: MCS_API_VERSION,
      kind: 'ServiceExport',
      metadata: { name: spec.service, namespace: spec.namespace, labels: bridgeLabels(spec.service) },
    })];
    if (this.config.createServiceImport) {
      objects.push(await ensureOwned(this.clusters[spec.callerCluster], spec.callerCluster, {
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceImport',
        metadata: { name: spec.service, namespace: spec.namespace, labels: bridgeLabels(spec.service) },
        spec: { type: spec.headless ? 'Headless' : 'ClusterSetIP', ports: spec.ports.map((port) => ({ ...port })) },
      }));
    }
    return { provider: this.type, spec, objects, warnings: await this.callerWarnings(spec) };
  }

  /** Each caller's env value naming the callee by a `cluster.local` form, which MCS leaves on the callers' own cluster. */
  private async callerWarnings(spec: BridgeSpec): Promise<string[]> {
    const wanted = serviceFqdn(spec, 'clusterset.local');
    const warnings: string[] = [];
    for (const caller of spec.callers ?? []) {
      const [kind, namespace, name] = caller.split('/');
      if (!kind || !namespace || !name) continue;
      // Before its wave moves, a caller is only on the other cluster; its manifests are the same.
      const workload = await readWorkload(this.clusters, spec.callerCluster, kind, namespace, name);
      if (!workload) {
        warnings.push(`${caller}: not found on either cluster, so its references to ${spec.service} were not checked; it must call ${wanted}`);
        continue;
      }
      const found: string[] = [];
      for (const container of allContainers(podTemplate(workload)?.spec ?? {})) {
        for (const env of container.env ?? []) {
          if (typeof env.value !== 'string') continue;
          for (const reference of hostReferences(env.value)) {
            const target = serviceForHost(reference.host, namespace);
            if (target?.namespace === spec.namespace && target.name === spec.service) found.push(`container ${container.name ?? '?'} env ${env.name} (${reference.host})`);
          }
        }
      }
      if (found.length > 0) warnings.push(`${caller} names ${spec.service} by cluster.local forms MCS does not redirect: ${found.join('; ')}; change them to ${wanted}, or use spec.bridges.provider: endpoints`);
    }
    return warnings;
  }

  async remove(record: BridgeRecord): Promise<void> {
    for (const object of record.objects.filter((entry) => entry.created)) {
      const cluster = this.clusters[object.cluster];
      const live = await cluster.get(object);
      if (live?.metadata.labels?.[BRIDGE_LABEL] === record.spec.service) await cluster.delete(object);
    }
  }

  async verify(record: BridgeRecord): Promise<string[]> {
    const { spec } = record;
    const problems: string[] = [];
    const serving = this.clusters[spec.servingCluster];
    const exported = await serving.get({ apiVersion: MCS_API_VERSION, kind: 'ServiceExport', namespace: spec.namespace, name: spec.service });
    if (!exported) problems.push(`ServiceExport ${spec.namespace}/${spec.service} is missing on cluster "${serving.context}"`);
    for (const condition of ((exported?.status as Obj | undefined)?.conditions ?? []) as Obj[]) {
      if (condition.status === 'False' && ['Valid', 'Ready', 'Exported'].includes(condition.type)) problems.push(`ServiceExport ${spec.namespace}/${spec.service} on cluster "${serving.context}": ${condition.type} is False (${condition.reason ?? ''}: ${condition.message ?? ''})`);
      if (condition.status === 'True' && condition.type === 'Conflict') problems.push(`ServiceExport ${spec.namespace}/${spec.service} on cluster "${serving.context}" conflicts: ${condition.message ?? ''}`);
    }
    const callers = this.clusters[spec.callerCluster];
    const imported = await callers.get({ apiVersion: MCS_API_VERSION, kind: 'ServiceImport', namespace: spec.namespace, name: spec.service });
    if (!imported) {
      problems.push(`ServiceImport ${spec.namespace}/${spec.service} is missing on cluster "${callers.context}": ${this.config.createServiceImport ? 'Ferry wrote it and it is gone' : 'the clusterset\'s MCS controller has not imported the export (yet); set spec.bridges.mcs.createServiceImport: true if the clusterset has none'}`);
    }
    return problems;
  }
}

/** Server-side apply unless an object of that name exists that the bridge did not create (then it is used, not owned). */
async function ensureOwned(cluster: BridgeObjects, side: ClusterSide, object: KubeObject): Promise<BridgeObjectRef> {
  const ref = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace!, name: object.metadata.name };
  const existing = await cluster.get(ref);
  const ours = !existing || existing.metadata.labels?.[BRIDGE_LABEL] === object.metadata.name;
  if (ours) await cluster.apply(object);
  return { cluster: side, ...ref, created: ours };
}

async function readWorkload(clusters: BridgeClusters, first: ClusterSide, kind: string, namespace: string, name: string): Promise<KubeObject | undefined> {
  const apiVersion = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(kind) ? 'apps/v1' : kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'v1';
  if (!['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'].includes(kind)) return undefined;
  for (const side of [first, first === 'source' ? 'target' : 'source'] as const) {
    const workload = await clusters[side].get({ apiVersion, kind, namespace, name });
    if (workload) return workload;
  }
  return undefined;
}
