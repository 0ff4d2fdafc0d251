import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../../kube/object.js';
import { describeObject } from '../../kube/object.js';
import { kubeClusterObjects, refOf } from '../../traffic/cluster-objects.js';
import { FerryError } from '../../util/errors.js';

/** Setting up the demo's source cluster the way a team's CI would: apply, then wait for the rollout. */
export async function applyAndWait(config: KubeConfig, objects: readonly KubeObject[], timeoutMs = 60_000): Promise<void> {
  const cluster = kubeClusterObjects(config);
  // What a pod needs must exist before the pod: namespaces, then config, then workloads.
  const tier = (kind: string) => ['Namespace', 'ServiceAccount', 'Secret', 'ConfigMap', 'PersistentVolumeClaim', 'Service'].indexOf(kind);
  const ordered = [...objects].sort((a, b) => (tier(a.kind) === -1 ? 99 : tier(a.kind)) - (tier(b.kind) === -1 ? 99 : tier(b.kind)));
  for (const object of ordered) await cluster.apply(object);
  const deadline = Date.now() + timeoutMs;
  for (const object of objects.filter((o) => o.kind === 'Deployment')) {
    for (;;) {
      const live = await cluster.get(refOf(object));
      const status = (live?.status ?? {}) as { observedGeneration?: number; availableReplicas?: number; conditions?: Array<{ type: string; status: string }> };
      const wanted = Number((object.spec as { replicas?: number }).replicas ?? 1);
      if (status.observedGeneration === live?.metadata.generation && (status.availableReplicas ?? 0) >= wanted) break;
      if (Date.now() > deadline) throw new FerryError('demo', `${describeObject(object)} did not become available in ${timeoutMs / 1000} s`, { fix: 'run with FERRY_LOG_LEVEL=info to see pod output' });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
