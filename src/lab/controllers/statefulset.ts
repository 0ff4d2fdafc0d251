/**
 * StatefulSet → Pods `<name>-<ordinal>` with stable PVCs from volumeClaimTemplates,
 * created in order (OrderedReady waits for each to be Ready), scaled down from the
 * highest ordinal, updated by replacing pods whose revision is not the current one.
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { ControllerClient, controllerOf, isActivePod, isPodReady, shortHash } from './client.js';
import { podFromTemplate } from './replicaset.js';
import { splitKey, type Controller } from './manager.js';

type Obj = Record<string, any>;

export function statefulSetController(client: ControllerClient): Controller {
  return {
    name: 'statefulset',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === 'apps/statefulsets') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === '/pods') {
        const owner = controllerOf(object);
        return owner?.kind === 'StatefulSet' ? [`${object.metadata.namespace}/${owner.name}`] : [];
      }
      return [];
    },
    initialKeys: () => client.list('apps/v1', 'StatefulSet').map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const set = client.get('apps/v1', 'StatefulSet', namespace, name);
      if (!set || set.metadata.deletionTimestamp) return;
      reconcileStatefulSet(client, set);
    },
  };
}

function reconcileStatefulSet(client: ControllerClient, set: KubeObject): void {
  const spec = set.spec as Obj;
  const desired: number = spec.replicas ?? 1;
  const revision = `${set.metadata.name}-${shortHash(spec.template)}`;
  const ordered = (spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
  const pods = client.list('v1', 'Pod', set.metadata.namespace).filter((pod) => controllerOf(pod)?.uid === set.metadata.uid);
  const byOrdinal = new Map<number, KubeObject>();
  for (const pod of pods) byOrdinal.set(Number(pod.metadata.name.slice(set.metadata.name.length + 1)), pod);

  for (let ordinal = 0; ordinal < desired; ordinal++) {
    const pod = byOrdinal.get(ordinal);
    if (pod) {
      if (ordered && (!isPodReady(pod) || !isActivePod(pod))) break;
      continue;
    }
    ensureClaims(client, set, ordinal);
    const podName = `${set.metadata.name}-${ordinal}`;
    const volumes = [...(((spec.template?.spec?.volumes ?? []) as Obj[]))];
    for (const claim of (spec.volumeClaimTemplates ?? []) as KubeObject[]) {
      if (!volumes.some((v) => v.name === claim.metadata.name)) volumes.push({ name: claim.metadata.name, persistentVolumeClaim: { claimName: `${claim.metadata.name}-${podName}` } });
    }
    client.create(podFromTemplate(set, podName, {
      labels: { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(ordinal) },
      spec: { hostname: podName, ...(spec.serviceName ? { subdomain: spec.serviceName } : {}), ...(volumes.length ? { volumes } : {}) },
    }));
    if (ordered) break;
  }
  // Scale down from the highest ordinal, one at a time when ordered.
  const extra = [...byOrdinal.entries()].filter(([ordinal]) => ordinal >= desired).sort((a, b) => b[0] - a[0]);
  for (const [, pod] of ordered ? extra.slice(0, 1) : extra) client.delete(pod);
  // Rolling update: replace the highest-ordinal outdated pod once every pod is ready.
  const inRange = [...byOrdinal.entries()].filter(([ordinal]) => ordinal < desired);
  const allReady = inRange.length === desired && inRange.every(([, pod]) => isPodReady(pod));
  const outdated = inRange.filter(([, pod]) => pod.metadata.labels?.['controller-revision-hash'] !== revision).sort((a, b) => b[0] - a[0]);
  if (allReady && outdated.length > 0 && (spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') client.delete(outdated[0]![1]);

  const current = client.list('v1', 'Pod', set.metadata.namespace).filter((pod) => controllerOf(pod)?.uid === set.metadata.uid && isActivePod(pod));
  const ready = current.filter(isPodReady).length;
  const updated = current.filter((pod) => pod.metadata.labels?.['controller-revision-hash'] === revision).length;
  const status: Obj = {
    observedGeneration: set.metadata.generation,
    replicas: current.length,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: updated,
    updatedReplicas: updated,
    currentRevision: updated === current.length ? revision : (set.status as Obj | undefined)?.currentRevision ?? revision,
    updateRevision: revision,
    collisionCount: 0,
  };
  client.setStatus(set, status);
}

function ensureClaims(client: ControllerClient, set: KubeObject, ordinal: number): void {
  for (const template of ((set.spec as Obj).volumeClaimTemplates ?? []) as KubeObject[]) {
    const name = `${template.metadata.name}-${set.metadata.name}-${ordinal}`;
    if (client.get('v1', 'PersistentVolumeClaim', set.metadata.namespace, name)) continue;
    client.create({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace: set.metadata.namespace, labels: { ...((set.spec as Obj).selector?.matchLabels ?? {}) } },
      spec: structuredClone(template.spec ?? {}),
    });
  }
}
