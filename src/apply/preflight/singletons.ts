/**
 * Things that must run on one cluster at a time (issue #22): each CronJob of a slice (it
 * arrives suspended and is switched at cutover), workloads marked as singletons, and
 * workloads that look like singletons but are not marked — leader election (their
 * ServiceAccount may write coordination.k8s.io Leases, or their args/env mention it), which
 * would run a second leader on the target from the apply on.
 */
import type { KubeObject } from '../../kube/object.js';
import type { MigrationPlan, Slice } from '../../plan/schema.js';
import { isSingletonWorkload, plannedSingletons } from '../transforms/hold-singletons.js';
import type { PreflightRow } from './model.js';

type Obj = Record<string, any>;

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet']);
const LEADER_ELECTION = /leader[-_]?elect/i;
const WRITE_VERBS = new Set(['create', 'update', 'patch', '*']);

function switchMoment(slice: Slice, plan: MigrationPlan): string {
  if (slice.data) return 'at its data cutover';
  const provider = slice.traffic?.provider ?? plan.spec.defaults.traffic.provider;
  return provider === 'none' ? 'at its decommission' : 'when its ramp reaches 100 %';
}

/** Rows for every slice's CronJobs and singleton or likely-singleton workloads. */
export function checkSingletons(plan: MigrationPlan, sourceObjects: readonly KubeObject[]): PreflightRow[] {
  const rows: PreflightRow[] = [];
  const find = (kind: string, namespace: string | undefined, name: string) => sourceObjects.find((o) => o.kind === kind && o.metadata.name === name && (o.metadata.namespace ?? undefined) === namespace);
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    const when = switchMoment(slice, plan);
    for (const ref of slice.resources.filter((r) => r.kind === 'CronJob')) {
      const cronJob = find('CronJob', ref.namespace ?? slice.namespace, ref.name);
      const subject = `CronJob ${ref.namespace ?? slice.namespace}/${ref.name}`;
      if ((cronJob?.spec as Obj | undefined)?.suspend === true) {
        rows.push({ severity: 'OK', check: 'singletons', subject, message: `slice ${slice.name}: suspended on the source, so it stays suspended on the target` });
      } else {
        rows.push({ severity: 'WARN', check: 'singletons', subject, message: `slice ${slice.name}: arrives on the target suspended and is switched ${when} (target resumed after the source's last run, source suspended; the reverse on rollback), so each schedule runs on one cluster`, fix: 'nothing to do; a Job started on the source before the switch finishes there' });
      }
    }
    let planned: Set<string>;
    try {
      planned = plannedSingletons(slice);
    } catch {
      planned = new Set();
    }
    for (const ref of slice.workloads.filter((w) => WORKLOAD_KINDS.has(w.kind))) {
      const workload = find(ref.kind, ref.namespace ?? slice.namespace, ref.name);
      if (!workload) continue;
      const subject = `${ref.kind} ${ref.namespace ?? slice.namespace}/${ref.name}`;
      if (isSingletonWorkload(workload, planned)) {
        rows.push({ severity: 'OK', check: 'singletons', subject, message: `slice ${slice.name}: a singleton: starts on the target at 0 replicas and is switched ${when}` });
        continue;
      }
      const reasons = [...leaderElectionArgs(workload), ...leaseWriters(workload, sourceObjects)];
      if (reasons.length === 0) continue;
      rows.push({
        severity: 'WARN', check: 'singletons', subject,
        message: `slice ${slice.name}: looks like a singleton (${reasons.join('; ')}): applied as it is, it runs on both clusters from the apply until decommission`,
        fix: ref.kind === 'DaemonSet'
          ? 'a DaemonSet cannot be held at 0 replicas: make sure its leader election spans both clusters, or move it in a slice of its own without traffic'
          : `annotate it ferry.dev/singleton: "true", or add ${ref.kind}/${ref.name} to the slice's singletons, so it starts at 0 replicas on the target and is switched at cutover (ignore this if its leader election already spans both clusters)`,
      });
    }
  }
  return rows;
}

function containersOf(workload: KubeObject): Obj[] {
  const spec = (workload.spec as Obj | undefined)?.template?.spec as Obj | undefined;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
}

/** Leader election in a container's command, args or environment (`--leader-elect`, `LEADER_ELECT`). */
export function leaderElectionArgs(workload: KubeObject): string[] {
  const found: string[] = [];
  for (const container of containersOf(workload)) {
    const words = [...(container.command ?? []), ...(container.args ?? [])].filter((word: unknown) => typeof word === 'string' && LEADER_ELECTION.test(word));
    const env = (container.env ?? []).filter((variable: Obj) => LEADER_ELECTION.test(String(variable.name)) || LEADER_ELECTION.test(String(variable.value ?? '')));
    if (words.length > 0) found.push(`container ${container.name} runs with ${String(words[0]).split('=')[0]}`);
    if (env.length > 0) found.push(`container ${container.name} has ${env[0].name} in its environment`);
  }
  return found;
}

/** Roles and ClusterRoles bound to the workload's ServiceAccount that may write coordination.k8s.io Leases. */
export function leaseWriters(workload: KubeObject, objects: readonly KubeObject[]): string[] {
  const namespace = workload.metadata.namespace ?? 'default';
  const account = ((workload.spec as Obj | undefined)?.template?.spec?.serviceAccountName as string | undefined) ?? 'default';
  const found: string[] = [];
  for (const binding of objects.filter((o) => (o.kind === 'RoleBinding' && (o.metadata.namespace ?? 'default') === namespace) || o.kind === 'ClusterRoleBinding')) {
    const subjects = ((binding as Obj).subjects ?? []) as Obj[];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === account && (s.namespace ?? namespace) === namespace)) continue;
    const roleRef = (binding as Obj).roleRef as Obj | undefined;
    if (!roleRef) continue;
    const role = objects.find((o) => o.kind === roleRef.kind && o.metadata.name === roleRef.name && (roleRef.kind === 'ClusterRole' || (o.metadata.namespace ?? 'default') === namespace));
    const rules = ((role as Obj | undefined)?.rules ?? []) as Obj[];
    const writes = rules.some((rule) => (rule.apiGroups ?? []).some((g: string) => g === 'coordination.k8s.io' || g === '*')
      && (rule.resources ?? []).some((r: string) => r === 'leases' || r === '*')
      && (rule.verbs ?? []).some((v: string) => WRITE_VERBS.has(v)));
    if (writes) found.push(`its ServiceAccount ${account} may write Leases (leader election) through ${roleRef.kind} ${roleRef.name}`);
  }
  return found;
}
