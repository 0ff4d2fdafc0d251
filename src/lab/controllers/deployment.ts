/**
 * Deployment → ReplicaSets: one ReplicaSet per pod template (named by its hash), the new
 * one scaled to the desired count and old ones scaled down as new pods become available;
 * status with observedGeneration and the Available/Progressing conditions `kubectl
 * rollout status` and `kubectl wait` read.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { ControllerClient, controllerOf, ownerReference, setCondition, shortHash, type Condition } from './client.js';
import { splitKey, type Controller } from './manager.js';
import { resolveFenceposts } from '../api/rolling-update.js';
import { recordEvent } from '../events.js';

type Obj = Record<string, any>;

export function deploymentController(client: ControllerClient): Controller {
  return {
    name: 'deployment',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === 'apps/deployments') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === 'apps/replicasets') {
        const owner = controllerOf(object);
        return owner?.kind === 'Deployment' ? [`${object.metadata.namespace}/${owner.name}`] : [];
      }
      return [];
    },
    initialKeys: () => client.list('apps/v1', 'Deployment').map((d) => `${d.metadata.namespace}/${d.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const deployment = client.get('apps/v1', 'Deployment', namespace, name);
      if (!deployment || deployment.metadata.deletionTimestamp) return;
      return reconcileDeployment(client, deployment);
    },
  };
}

function reconcileDeployment(client: ControllerClient, deployment: KubeObject): { requeueAfterMs: number } | undefined {
  const spec = deployment.spec as Obj;
  const desired: number = spec.replicas ?? 1;
  const template = structuredClone(spec.template ?? {}) as Obj;
  const hash = shortHash(template);
  const owned = client.list('apps/v1', 'ReplicaSet', deployment.metadata.namespace).filter((rs) => controllerOf(rs)?.uid === deployment.metadata.uid);
  let current = owned.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
  const olds = owned.filter((rs) => rs !== current);
  const revision = Math.max(0, ...owned.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)));
  const recreate = spec.strategy?.type === 'Recreate';
  const oldPods = olds.reduce((sum, rs) => sum + ((rs.status as Obj | undefined)?.replicas ?? 0), 0);

  const { maxSurge, maxUnavailable } = resolveFenceposts(spec.strategy, desired);
  const specOf = (rs: KubeObject): number => ((rs.spec as Obj).replicas as number | undefined) ?? 0;
  // Pods a ReplicaSet may still have: its spec, or more while it is still deleting some.
  const podsOf = (rs: KubeObject): number => Math.max(specOf(rs), ((rs.status as Obj | undefined)?.replicas as number | undefined) ?? 0);
  // A status that has not caught up with a scale-down must not count pods that are going.
  const availableOf = (rs: KubeObject): number => Math.min(specOf(rs), ((rs.status as Obj | undefined)?.availableReplicas as number | undefined) ?? 0);
  // The new ReplicaSet's size (NewRSNewReplicas): all of it for Recreate once the old pods
  // are gone; for RollingUpdate, up to desired + maxSurge pods across every ReplicaSet.
  const newSize = (currentNew: number): number => {
    if (recreate) return oldPods > 0 ? 0 : desired;
    if (currentNew >= desired) return desired;
    const allPods = olds.reduce((sum, rs) => sum + podsOf(rs), 0) + currentNew;
    const room = desired + maxSurge - allPods;
    return room <= 0 ? currentNew : currentNew + Math.min(room, desired - currentNew);
  };

  if (!current) {
    const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
    const replicas = newSize(0);
    current = client.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${deployment.metadata.name}-${hash}`,
        namespace: deployment.metadata.namespace,
        labels,
        annotations: { 'deployment.kubernetes.io/desired-replicas': String(desired), 'deployment.kubernetes.io/max-replicas': String(desired + maxSurge), 'deployment.kubernetes.io/revision': String(revision + 1) },
        ownerReferences: [ownerReference(deployment)],
      },
      spec: {
        replicas,
        minReadySeconds: spec.minReadySeconds ?? 0,
        selector: { ...spec.selector, matchLabels: { ...(spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
        template: { ...template, metadata: { ...(template.metadata ?? {}), labels } },
      },
    });
    if (replicas > 0) recordEvent(client, deployment, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${current.metadata.name} from 0 to ${replicas}`);
  } else {
    const before = specOf(current);
    const wanted = newSize(before);
    if (before !== wanted || current.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'] !== String(desired)) {
      const copy = structuredClone(current);
      (copy.spec as Obj).replicas = wanted;
      copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), 'deployment.kubernetes.io/desired-replicas': String(desired), 'deployment.kubernetes.io/max-replicas': String(desired + maxSurge) };
      current = client.update(copy);
      if (before !== wanted) recordEvent(client, deployment, 'Normal', 'ScalingReplicaSet', `Scaled ${wanted > before ? 'up' : 'down'} replica set ${current.metadata.name} from ${before} to ${wanted}`);
    }
  }

  // Old ReplicaSets shrink (reconcileOldReplicaSets): never below desired - maxUnavailable
  // available pods, unavailable old pods first, oldest ReplicaSets first.
  const oldest = [...olds].sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
  const sizes = new Map(oldest.map((rs) => [rs, specOf(rs)]));
  if (recreate) {
    for (const rs of oldest) sizes.set(rs, 0);
  } else if (oldest.some((rs) => specOf(rs) > 0)) {
    const minAvailable = desired - maxUnavailable;
    const newUnavailable = specOf(current) - availableOf(current);
    const allPods = specOf(current) + oldest.reduce((sum, rs) => sum + specOf(rs), 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown > 0) {
      let scaled = 0;
      for (const rs of oldest) {
        const unhealthy = specOf(rs) - availableOf(rs);
        if (scaled >= maxScaledDown || unhealthy <= 0) continue;
        const down = Math.min(maxScaledDown - scaled, unhealthy);
        sizes.set(rs, specOf(rs) - down);
        scaled += down;
      }
      const availablePods = availableOf(current) + oldest.reduce((sum, rs) => sum + Math.min(sizes.get(rs)!, availableOf(rs)), 0);
      let budget = availablePods - minAvailable;
      for (const rs of oldest) {
        if (budget <= 0) break;
        const down = Math.min(sizes.get(rs)!, budget);
        sizes.set(rs, sizes.get(rs)! - down);
        budget -= down;
      }
    }
  }
  for (const rs of oldest) {
    const before = specOf(rs);
    const keep = sizes.get(rs)!;
    if (keep === before) continue;
    const copy = structuredClone(rs);
    (copy.spec as Obj).replicas = keep;
    client.update(copy);
    recordEvent(client, deployment, 'Normal', 'ScalingReplicaSet', `Scaled down replica set ${rs.metadata.name} from ${before} to ${keep}`);
  }
  if (deployment.metadata.annotations?.['deployment.kubernetes.io/revision'] !== current.metadata.annotations?.['deployment.kubernetes.io/revision']) {
    const copy = structuredClone(deployment);
    copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': current.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '1' };
    deployment = client.update(copy);
  }
  return writeStatus(client, deployment, current, olds, desired);
}

function writeStatus(client: ControllerClient, deployment: KubeObject, current: KubeObject, olds: KubeObject[], desired: number): { requeueAfterMs: number } | undefined {
  const all = [current, ...olds];
  const sum = (field: string) => all.reduce((total, rs) => total + (((rs.status as Obj | undefined)?.[field] as number | undefined) ?? 0), 0);
  const replicas = sum('replicas');
  const updated = ((current.status as Obj | undefined)?.replicas as number | undefined) ?? 0;
  const available = sum('availableReplicas');
  const ready = sum('readyReplicas');
  const { maxUnavailable } = resolveFenceposts((deployment.spec as Obj).strategy, desired);
  const now = client.now();
  const previous = (deployment.status as Obj | undefined)?.conditions as Condition[] | undefined;
  const complete = updated === desired && replicas === desired && available === desired && ((current.status as Obj | undefined)?.observedGeneration ?? 0) >= (current.metadata.generation ?? 0);
  let conditions = setCondition(previous, available >= desired - maxUnavailable
    ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
    : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now, true);
  // Progress, as the deployment controller counts it: the rollout's replica counts moved.
  // Without progress for progressDeadlineSeconds, Progressing turns False with
  // ProgressDeadlineExceeded (what `kubectl rollout status` reports as a failure); any
  // progress afterwards turns it back to True.
  const before = (deployment.status as Obj | undefined) ?? {};
  const progressed = before.updatedReplicas !== (updated || undefined) || before.readyReplicas !== (ready || undefined) || before.availableReplicas !== (available || undefined) || before.replicas !== (replicas || undefined);
  const lastProgressing = previous?.find((c) => c.type === 'Progressing');
  const deadlineMs = (((deployment.spec as Obj).progressDeadlineSeconds as number | undefined) ?? 600) * 1000;
  const sinceProgressMs = lastProgressing?.lastUpdateTime && !progressed ? Date.parse(now) - Date.parse(lastProgressing.lastUpdateTime) : 0;
  let requeueAfterMs: number | undefined;
  if (complete) {
    conditions = setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${current.metadata.name}" has successfully progressed.` }, now, true);
  } else if (!progressed && (lastProgressing?.reason === 'ProgressDeadlineExceeded' || sinceProgressMs >= deadlineMs)) {
    conditions = setCondition(conditions, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${current.metadata.name}" has timed out progressing.` }, now, true);
    if (lastProgressing?.reason !== 'ProgressDeadlineExceeded') recordEvent(client, deployment, 'Warning', 'ProgressDeadlineExceeded', `Deployment "${deployment.metadata.name}" has timed out progressing.`);
  } else {
    const next: Condition = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${current.metadata.name}" is progressing.` };
    conditions = setCondition(conditions, next, now, true);
    // setCondition keeps lastUpdateTime while nothing changes; progress refreshes it.
    if (progressed) conditions = conditions.map((c) => (c.type === 'Progressing' ? { ...c, lastUpdateTime: now } : c));
    requeueAfterMs = Math.max(100, deadlineMs - (progressed ? 0 : sinceProgressMs));
  }
  const status: Obj = {
    observedGeneration: deployment.metadata.generation,
    replicas,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: available,
    ...(desired - available > 0 ? { unavailableReplicas: desired - available } : {}),
    conditions,
  };
  for (const key of ['readyReplicas', 'availableReplicas', 'updatedReplicas', 'replicas']) if (status[key] === 0) delete status[key];
  client.setStatus(deployment, status);
  return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
}
