import type { ApiResource, KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { FERRY_DECOMMISSION_MANAGER, FERRY_ROLLBACK_MANAGER } from '../apply/conflicts.js';
import { FerryError } from '../util/errors.js';

/**
 * GitOps controllers that manage a slice's objects on the source. A self-healing controller
 * (Argo CD automated sync with selfHeal, Flux's interval reconcile) would scale the source
 * back up after decommission, so its sync is suspended first and its previous settings kept
 * on the object itself (an annotation, which survives a crash of the orchestrator) and in
 * the journal; a rollback puts them back.
 */

export type GitOpsKind = 'Kustomization' | 'HelmRelease' | 'Application';

export interface GitOpsManager {
  kind: GitOpsKind;
  group: string;
  namespace: string;
  name: string;
  /** The slice objects it manages, `Kind namespace/name`. */
  manages: string[];
}

/** Where a suspended object keeps the sync settings it had, as JSON. */
export const PREVIOUS_SYNC_ANNOTATION = 'ferry.dev/sync-before-migration';

const FLUX_KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const FLUX_HELM = 'helm.toolkit.fluxcd.io';
const ARGO = 'argoproj.io';
const ARGO_TRACKING_ID = 'argocd.argoproj.io/tracking-id';
/** Argo CD's label-based tracking (its default before 3.0); Helm charts set the same label, so an Application of that name must exist. */
const ARGO_INSTANCE_LABEL = 'app.kubernetes.io/instance';

export function managerKey(manager: Pick<GitOpsManager, 'kind' | 'namespace' | 'name'>): string {
  return `${manager.kind} ${manager.namespace}/${manager.name}`;
}

/**
 * The GitOps objects that manage `objects`, from their tracking labels and annotations.
 * `applications` are the Argo CD Applications on the cluster (namespace/name), used to
 * resolve label-based tracking and the namespace of an annotation's app name.
 */
export function findGitOpsManagers(objects: readonly KubeObject[], applications: ReadonlyArray<{ namespace: string; name: string }>): GitOpsManager[] {
  const found = new Map<string, GitOpsManager>();
  const add = (kind: GitOpsKind, group: string, namespace: string, name: string, object: KubeObject) => {
    const key = managerKey({ kind, namespace, name });
    const manager = found.get(key) ?? { kind, group, namespace, name, manages: [] };
    const described = describeObject(object);
    if (!manager.manages.includes(described)) manager.manages.push(described);
    found.set(key, manager);
  };
  for (const object of objects) {
    const labels = object.metadata.labels ?? {};
    const annotations = object.metadata.annotations ?? {};
    const kustomization = labels[`${FLUX_KUSTOMIZE}/name`];
    if (kustomization) add('Kustomization', FLUX_KUSTOMIZE, labels[`${FLUX_KUSTOMIZE}/namespace`] ?? 'flux-system', kustomization, object);
    const release = labels[`${FLUX_HELM}/name`];
    if (release) add('HelmRelease', FLUX_HELM, labels[`${FLUX_HELM}/namespace`] ?? object.metadata.namespace ?? 'default', release, object);
    const application = argoApplication(annotations[ARGO_TRACKING_ID], labels[ARGO_INSTANCE_LABEL], applications);
    if (application) add('Application', ARGO, application.namespace, application.name, object);
  }
  return [...found.values()];
}

/** `<app>:<group>/<kind>:<ns>/<name>`, where `<app>` is `<namespace>_<name>` for Applications outside Argo CD's own namespace. */
function argoApplication(trackingId: string | undefined, instance: string | undefined, applications: ReadonlyArray<{ namespace: string; name: string }>): { namespace: string; name: string } | undefined {
  const app = trackingId ? trackingId.split(':')[0] : instance;
  if (!app) return undefined;
  const [qualifiedNamespace, qualifiedName] = app.includes('_') ? app.split('_', 2) as [string, string] : [undefined, app];
  const match = applications.find((candidate) => candidate.name === qualifiedName && (!qualifiedNamespace || candidate.namespace === qualifiedNamespace));
  if (match) return match;
  // The annotation names an Application even when it is not found (another namespace, no access); the bare label does not.
  return trackingId ? { namespace: qualifiedNamespace ?? 'argocd', name: qualifiedName } : undefined;
}

/** Discovery of the GitOps kinds this cluster serves (none when Flux and Argo CD are not installed). */
export async function gitOpsResources(client: KubeClient): Promise<Map<GitOpsKind, ApiResource>> {
  const resources = await client.discoverResources();
  const out = new Map<GitOpsKind, ApiResource>();
  for (const [kind, group] of [['Kustomization', FLUX_KUSTOMIZE], ['HelmRelease', FLUX_HELM], ['Application', ARGO]] as const) {
    const resource = resources.find((candidate) => candidate.group === group && candidate.kind === kind);
    if (resource) out.set(kind, resource);
  }
  return out;
}

/** Argo CD Applications on the cluster, as namespace/name. */
export async function listApplications(client: KubeClient, resources: Map<GitOpsKind, ApiResource>): Promise<Array<{ namespace: string; name: string }>> {
  const resource = resources.get('Application');
  if (!resource) return [];
  return (await client.listAll(resource)).map((object) => ({ namespace: object.metadata.namespace ?? 'default', name: object.metadata.name }));
}

/** What one GitOps object's sync was before Ferry suspended it, and what it is now. */
export interface SyncSuspension {
  kind: GitOpsKind;
  namespace: string;
  name: string;
  /** Flux: `{ suspend }`; Argo CD: `{ automated }` (absent when sync was already manual). */
  previous: { suspend?: boolean; automated?: unknown };
  suspended: boolean;
  manages: string[];
  /** What the user must do so the new cluster is managed from now on. */
  pointAtTarget: string;
}

function pathOf(resource: ApiResource, namespace: string, name: string): string {
  return `/apis/${resource.apiVersion}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}/${encodeURIComponent(name)}`;
}

async function getOrUndefined(client: KubeClient, path: string): Promise<KubeObject | undefined> {
  return client.request<KubeObject>({ path }).catch((error: FerryError) => (error.code === 'http-404' ? undefined : Promise.reject(error)));
}

function pointAtTarget(manager: Pick<GitOpsManager, 'kind' | 'namespace' | 'name'>): string {
  if (manager.kind === 'Application') return `point Argo CD Application ${manager.namespace}/${manager.name}'s spec.destination at the target cluster, then turn automated sync back on`;
  if (manager.kind === 'HelmRelease') return `reconcile HelmRelease ${manager.namespace}/${manager.name} from a Flux on the target cluster (or set its spec.kubeConfig to the target's), then set spec.suspend: false`;
  return `reconcile Kustomization ${manager.namespace}/${manager.name} from a Flux on the target cluster (or set its spec.kubeConfig to the target's), then set spec.suspend: false`;
}

/**
 * Suspends each manager's sync with a merge patch as Ferry's decommission field manager and
 * reads it back. The settings it had are kept in an annotation the first time only, so a
 * decommission run again after a crash does not record "suspended" as the previous state.
 */
export async function suspendSync(client: KubeClient, managers: readonly GitOpsManager[]): Promise<SyncSuspension[]> {
  const resources = await gitOpsResources(client);
  const out: SyncSuspension[] = [];
  for (const manager of managers) {
    const resource = resources.get(manager.kind);
    const subject = managerKey(manager);
    const path = resource ? pathOf(resource, manager.namespace, manager.name) : undefined;
    const live = path ? await getOrUndefined(client, path) : undefined;
    if (!path || !live) {
      // Argo CD often runs on a management cluster: the Application is not here for Ferry to change.
      out.push({ kind: manager.kind, namespace: manager.namespace, name: manager.name, previous: {}, suspended: false, manages: manager.manages, pointAtTarget: `${subject} is not on the source cluster (its controller may run on another cluster): turn its sync off there by hand, then ${pointAtTarget(manager)}` });
      continue;
    }
    const spec = (live.spec ?? {}) as { suspend?: boolean; syncPolicy?: { automated?: unknown } };
    const remembered = live.metadata.annotations?.[PREVIOUS_SYNC_ANNOTATION];
    const previous = remembered ? JSON.parse(remembered) as SyncSuspension['previous'] : manager.kind === 'Application' ? (spec.syncPolicy?.automated !== undefined ? { automated: spec.syncPolicy.automated } : {}) : (spec.suspend !== undefined ? { suspend: spec.suspend } : {});
    const specPatch = manager.kind === 'Application' ? { syncPolicy: { automated: null } } : { suspend: true };
    await client.request({ method: 'PATCH', path, query: { fieldManager: FERRY_DECOMMISSION_MANAGER }, body: { metadata: { annotations: { [PREVIOUS_SYNC_ANNOTATION]: JSON.stringify(previous) } }, spec: specPatch }, contentType: 'application/merge-patch+json' });
    const after = (await getOrUndefined(client, path))?.spec as typeof spec | undefined;
    const suspended = manager.kind === 'Application' ? after?.syncPolicy?.automated === undefined : after?.suspend === true;
    if (!suspended) throw new FerryError('gitops.suspend', `${subject}: its sync still reads as on after Ferry turned it off (something else re-enabled it)`, { location: { object: subject }, fix: 'find what manages that object (an app-of-apps, a Flux Kustomization over Flux objects) and suspend it first, then `ferry resume`' });
    out.push({ kind: manager.kind, namespace: manager.namespace, name: manager.name, previous, suspended, manages: manager.manages, pointAtTarget: pointAtTarget(manager) });
  }
  return out;
}

/**
 * Puts back the sync settings each suspended object had: from its annotation when it still
 * carries one, else from what the journal recorded. Read back; returns what was restored.
 */
export async function restoreSync(client: KubeClient, suspensions: readonly Pick<SyncSuspension, 'kind' | 'namespace' | 'name' | 'previous'>[]): Promise<string[]> {
  const resources = await gitOpsResources(client);
  const restored: string[] = [];
  for (const suspension of suspensions) {
    const resource = resources.get(suspension.kind);
    const subject = managerKey(suspension);
    if (!resource) continue;
    const path = pathOf(resource, suspension.namespace, suspension.name);
    const live = await getOrUndefined(client, path);
    if (!live) continue;
    const remembered = live.metadata.annotations?.[PREVIOUS_SYNC_ANNOTATION];
    const previous = remembered ? JSON.parse(remembered) as SyncSuspension['previous'] : suspension.previous;
    // JSON merge patch: null removes a field the object did not have before.
    const specPatch = suspension.kind === 'Application' ? { syncPolicy: { automated: previous.automated ?? null } } : { suspend: previous.suspend ?? null };
    await client.request({ method: 'PATCH', path, query: { fieldManager: FERRY_ROLLBACK_MANAGER }, body: { metadata: { annotations: { [PREVIOUS_SYNC_ANNOTATION]: null } }, spec: specPatch }, contentType: 'application/merge-patch+json' });
    const after = (await getOrUndefined(client, path))?.spec as { suspend?: boolean; syncPolicy?: { automated?: unknown } } | undefined;
    const back = suspension.kind === 'Application' ? JSON.stringify(after?.syncPolicy?.automated) === JSON.stringify(previous.automated) : after?.suspend === previous.suspend;
    if (!back) throw new FerryError('gitops.restore', `${subject}: its sync settings did not read back as they were before the migration`, { location: { object: subject }, fix: `set them by hand: ${JSON.stringify(previous)}` });
    restored.push(subject);
  }
  return restored;
}
