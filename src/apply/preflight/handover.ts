import type { KubeClient } from '../../kube/client.js';
import { describeObject, type KubeObject } from '../../kube/object.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { addressRows, egressRows } from '../../handover/addresses.js';
import { externalDnsHostnames, HOSTNAME_ANNOTATION } from '../../handover/external-dns.js';
import { findGitOpsManagers, gitOpsResources, listApplications, managerKey } from '../../handover/gitops.js';
import type { PlannedObjects } from './checks.js';
import type { PreflightRow } from './model.js';

/**
 * What belongs to the source cluster rather than to the slices (src/handover/): GitOps
 * controllers managing their objects, static addresses and node ports, egress addresses
 * third parties allow-list, and external-dns ownership of their names.
 */
export async function checkHandover(plan: MigrationPlan, planned: PlannedObjects, source: KubeClient | undefined): Promise<PreflightRow[]> {
  const sliceOf = new Map<string, string>();
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    for (const ref of slice.resources) sliceOf.set(`${ref.kind}/${ref.namespace ?? 'default'}/${ref.name}`, slice.name);
  }
  const sliceName = (object: KubeObject) => sliceOf.get(`${object.kind}/${object.metadata.namespace ?? 'default'}/${object.metadata.name}`);
  const rows: PreflightRow[] = [];

  // Argo CD's label-based tracking is told from Helm's same label by the Application existing.
  const applications = source ? await listApplications(source, await gitOpsResources(source)) : [];
  const sliceObjects = planned.original.filter((object) => sliceName(object) !== undefined);
  for (const manager of findGitOpsManagers(sliceObjects, applications)) {
    const slices = [...new Set(sliceObjects.filter((object) => manager.manages.includes(describeObject(object))).map(sliceName))].join(', ');
    const onSource = manager.kind !== 'Application' || applications.some((application) => application.namespace === manager.namespace && application.name === manager.name);
    const how = !onSource ? 'cannot suspend it: it is not on the source cluster (Argo CD may run on another cluster), so turn its automated sync off there before decommission' : manager.kind === 'Application' ? 'turns its automated sync off' : 'sets its spec.suspend: true';
    rows.push({
      severity: 'WARN', check: 'gitops', subject: managerKey(manager),
      message: `${manager.kind === 'Application' ? 'Argo CD' : 'Flux'} ${manager.kind} manages ${manager.manages.join(', ')} (slice ${slices}) on the source: at decommission Ferry ${how}${onSource ? ' so it does not scale the source back up (a rollback restores it)' : ''}`,
      fix: manager.kind === 'Application' ? `point ${managerKey(manager)}'s spec.destination at the target cluster once the slice has moved` : `reconcile ${managerKey(manager)} from a Flux on the target cluster once the slice has moved`,
    });
  }

  const inSlices = planned.original.flatMap((object, index) => (sliceName(object) ? [index] : []));
  rows.push(...addressRows(inSlices.map((index) => planned.original[index]!), inSlices.map((index) => planned.desired[index]!)));
  rows.push(...egressRows(plan.spec.waves.flatMap((wave) => wave.slices).map((slice) => ({ name: slice.name, objects: planned.original.filter((object) => sliceName(object) === slice.name) }))));

  const hostnames = externalDnsHostnames(sliceObjects.filter((object) => object.metadata.annotations?.[HOSTNAME_ANNOTATION] || ['Ingress', 'HTTPRoute'].includes(object.kind)));
  const external = plan.spec.externalDns;
  if (external && hostnames.length > 0) {
    rows.push({ severity: 'OK', check: 'external-dns', subject: `zone ${external.zone}`, message: `external-dns ownership of ${hostnames.join(', ')} moves from owner ${external.sourceOwnerId} to ${external.targetOwnerId} at each slice's cutover (and back on rollback)` });
  } else if (!external && sliceObjects.some((object) => object.metadata.annotations?.[HOSTNAME_ANNOTATION])) {
    const annotated = externalDnsHostnames(sliceObjects.filter((object) => object.metadata.annotations?.[HOSTNAME_ANNOTATION]));
    rows.push({ severity: 'WARN', check: 'external-dns', subject: annotated.join(', '), message: 'external-dns publishes these names from the source; without spec.externalDns the target\'s external-dns (another owner id) cannot update them, or both clusters fight over them', fix: 'add spec.externalDns { provider, apiUrl, zone, sourceOwnerId, targetOwnerId } so Ferry moves their TXT registry ownership at cutover' });
  }
  return rows;
}
