import { ResourcePaths } from '../apply/resources.js';
import type { Journal } from '../journal/journal.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceRef, Slice } from '../plan/schema.js';
import type { FerryError } from '../util/errors.js';
import { externalDnsHostnames, moveOwnership } from './external-dns.js';
import { findGitOpsManagers, gitOpsResources, listApplications, managerKey, restoreSync, suspendSync, type SyncSuspension } from './gitops.js';
import { powerdnsTxtRegistry } from './powerdns-registry.js';
import type { ExternalDnsSettings } from './schema.js';

/**
 * What belongs to a cluster rather than to a workload, handed from the source to the target
 * around a slice's move: the source's GitOps sync suspended before decommission, external-dns
 * ownership of the slice's names moved at cutover; a rollback undoes both. Everything done is
 * journaled, so a rollback (or a resumed run) knows what to undo.
 */
export interface SliceHandover {
  /** Before the source is retired: suspends the source's GitOps sync for the slice's objects (read back); what to re-point. */
  suspendSourceSync(journal: Journal, onProgress?: (detail: string) => void): Promise<Record<string, unknown>>;
  /** At cutover (`target`) and on rollback (`source`): external-dns registry owner of the slice's names. */
  moveDnsOwnership(to: 'source' | 'target', journal: Journal): Promise<Record<string, unknown>>;
  /** For a rollback: the sync settings as they were, and the names owned by the source again. */
  rollback(journal: Journal): Promise<Record<string, unknown>>;
}

export interface HandoverOptions {
  slice: Slice;
  /** The live source cluster, or undefined when the source is exported YAML. */
  source(): KubeClient | undefined;
  externalDns?: ExternalDnsSettings | undefined;
  env: Record<string, string | undefined>;
}

export function createSliceHandover({ slice, source, externalDns, env }: HandoverOptions): SliceHandover {
  const ofSlice = (journal: Journal, type: string) => journal.records.filter((record) => record.type === type && record.data.slice === slice.name);

  async function moveDnsOwnership(to: 'source' | 'target', journal: Journal): Promise<Record<string, unknown>> {
    if (!externalDns) return {};
    // The names as the cutover saw them: after a decommission with deleteSource the objects may be gone.
    const journaled = ofSlice(journal, 'dns-owner-moved').at(0)?.data.hostnames as string[] | undefined;
    const client = source();
    const hostnames = journaled ?? (client ? externalDnsHostnames(await readSliceObjects(client, slice.resources)) : []);
    if (hostnames.length === 0) return { dnsOwner: 'no hostnames in the slice' };
    const owners = to === 'target' ? { from: externalDns.sourceOwnerId, to: externalDns.targetOwnerId } : { from: externalDns.targetOwnerId, to: externalDns.sourceOwnerId };
    const registry = powerdnsTxtRegistry(externalDns, env[externalDns.apiKeyEnv]);
    const move = await moveOwnership(registry, hostnames, owners, externalDns.txtPrefix);
    journal.append('dns-owner-moved', { slice: slice.name, hostnames, side: to, ...move });
    return { dnsOwner: owners.to, dnsRecordsMoved: move.moved, ...(move.foreign.length > 0 ? { dnsForeignOwners: move.foreign } : {}), ...(move.unmanaged.length > 0 ? { dnsUnmanaged: move.unmanaged } : {}) };
  }

  return {
    async suspendSourceSync(journal, onProgress) {
      const client = source();
      if (!client) return {};
      const objects = await readSliceObjects(client, slice.resources);
      const managers = findGitOpsManagers(objects, await listApplications(client, await gitOpsResources(client)));
      if (managers.length === 0) return {};
      const suspensions = await suspendSync(client, managers);
      journal.append('gitops-suspended', { slice: slice.name, suspensions });
      for (const suspension of suspensions) onProgress?.(`suspended the source's sync of ${managerKey(suspension)}: ${suspension.pointAtTarget}`);
      const missing = suspensions.filter((suspension) => !suspension.suspended).map(managerKey);
      return { gitopsSuspended: suspensions.filter((suspension) => suspension.suspended).map(managerKey), ...(missing.length > 0 ? { gitopsNotOnSource: missing } : {}), pointAtTarget: suspensions.map((suspension) => suspension.pointAtTarget) };
    },
    moveDnsOwnership,
    async rollback(journal) {
      const out: Record<string, unknown> = {};
      // The first journaled suspension of each object holds the settings it had before Ferry.
      const suspended = new Map<string, SyncSuspension>();
      for (const record of ofSlice(journal, 'gitops-suspended')) {
        for (const suspension of record.data.suspensions as SyncSuspension[]) if (suspension.suspended && !suspended.has(managerKey(suspension))) suspended.set(managerKey(suspension), suspension);
      }
      const client = source();
      if (client && suspended.size > 0) {
        const restored = await restoreSync(client, [...suspended.values()]);
        journal.append('gitops-restored', { slice: slice.name, restored });
        out.gitopsRestored = restored;
      }
      if (externalDns && ofSlice(journal, 'dns-owner-moved').length > 0) Object.assign(out, await moveDnsOwnership('source', journal));
      return out;
    },
  };
}

/** The slice's objects as the source cluster has them now (those it no longer has are left out). */
async function readSliceObjects(client: KubeClient, refs: readonly ResourceRef[]): Promise<KubeObject[]> {
  const paths = new ResourcePaths(client);
  await paths.refresh();
  const objects: KubeObject[] = [];
  for (const ref of refs) {
    const path = paths.pathOf({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace ?? 'default' } });
    const object = await client.request<KubeObject>({ path }).catch((error: FerryError) => (error.code === 'http-404' ? undefined : Promise.reject(error)));
    if (object) objects.push(object);
  }
  return objects;
}
