/**
 * ReplicaSet → Pods: create or delete pods until the active count matches spec.replicas;
 * status counts ready and available pods (observedGeneration included).
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { randomSuffix } from '../api/objects.js';
import { ControllerClient, controllerOf, isActivePod, isPodReady, ownerReference } from './client.js';
import { splitKey, type Controller } from './manager.js';
import { recordEvent } from '../events.js';

type Obj = Record<string, any>;

export function replicaSetController(client: ControllerClient): Controller {
  return {
    name: 'replicaset',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === 'apps/replicasets') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === '/pods') {
        const owner = controllerOf(object);
        return owner?.kind === 'ReplicaSet' ? [`${object.metadata.namespace}/${owner.name}`] : [];
      }
      return [];
    },
    initialKeys: () => client.list('apps/v1', 'ReplicaSet').map((rs) => `${rs.metadata.namespace}/${rs.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const rs = client.get('apps/v1', 'ReplicaSet', namespace, name);
      if (!rs || rs.metadata.deletionTimestamp) return;
      const pods = client.list('v1', 'Pod', namespace).filter((pod) => controllerOf(pod)?.uid === rs.metadata.uid);
      const active = pods.filter(isActivePod);
      const desired: number = (rs.spec as Obj).replicas ?? 1;
      if (active.length < desired) {
        for (let i = active.length; i < desired; i++) {
          const pod = client.create(podFromTemplate(rs, `${rs.metadata.name}-${randomSuffix()}`));
          recordEvent(client, rs, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
        }
      } else if (active.length > desired) {
        // Not-ready and newest pods go first, as the ReplicaSet controller ranks them.
        const ranked = [...active].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
        for (const pod of ranked.slice(0, active.length - desired)) {
          client.delete(pod);
          recordEvent(client, rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        }
      }
      for (const pod of pods) if ((pod.status as Obj | undefined)?.phase === 'Failed' && !pod.metadata.deletionTimestamp) client.delete(pod);
      const current = client.list('v1', 'Pod', namespace).filter((pod) => controllerOf(pod)?.uid === rs.metadata.uid && isActivePod(pod));
      const ready = current.filter(isPodReady).length;
      const status: Obj = {
        replicas: current.length,
        fullyLabeledReplicas: current.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: rs.metadata.generation,
      };
      for (const field of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']) if (status[field] === 0) delete status[field];
      client.setStatus(rs, status);
    },
  };
}

export function podFromTemplate(owner: KubeObject, name: string, extra: { labels?: Record<string, string>; spec?: Obj; hostname?: string } = {}): KubeObject {
  const template = structuredClone(((owner.spec as Obj).template ?? {}) as Obj);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    spec: { ...(template.spec ?? {}), ...(extra.spec ?? {}) },
  };
}
