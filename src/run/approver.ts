/**
 * Who approves: the Kubernetes user the plan's target cluster reports for the caller's
 * credentials (SelfSubjectReview), never a name typed on the command line. Plans list
 * approvers as Kubernetes user names (`alice`, `system:serviceaccount:ops:release-bot`).
 */
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { reviewedUser, type ReviewedUser } from '../kube/whoami.js';
import type { MigrationPlan } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';

export interface ApproverIdentity extends ReviewedUser {
  /** The kubeconfig context whose credentials were reviewed. */
  context: string;
  /** The API server that reviewed them (the plan's target cluster). */
  server: string;
}

/**
 * Reviews the credentials of `context` (default: the plan's target context) on the cluster it
 * points at, which must be the plan's target cluster when the kubeconfig also has that
 * context: an identity vouched for by some other cluster says nothing about who may move
 * this plan's workloads.
 */
export async function approverIdentity(plan: MigrationPlan, options: { kubeconfig?: string; context?: string } = {}): Promise<ApproverIdentity> {
  const targetContext = plan.spec.target.context;
  const context = options.context ?? targetContext;
  if (!context) throw new FerryError('approval', 'the plan names no target context to review your identity on', { location: { field: 'spec.target.context' }, fix: 'pass --context with a context for the target cluster' });
  const kubeconfig = options.kubeconfig ?? plan.spec.target.kubeconfig;
  const config = loadKubeConfig({ context, ...(kubeconfig ? { kubeconfig } : {}) });
  const server = config.getCurrentCluster()?.server ?? '';
  const targetServer = targetContext && context !== targetContext ? config.getContextObject(targetContext) && config.getCluster(config.getContextObject(targetContext)!.cluster)?.server : undefined;
  if (targetServer && targetServer !== server) {
    throw new FerryError('approval', `context "${context}" points at ${server}, not at the plan's target cluster (${targetServer}, context "${targetContext}")`, {
      location: { field: '--context' }, fix: `approve with credentials for the target cluster: a context whose server is ${targetServer}`,
    });
  }
  const client = new KubeClient(config);
  try {
    return { ...(await reviewedUser(client)), context, server };
  } finally {
    client.close();
  }
}

/** Throws unless `identity` is one of the slice's approvers (and equals `--as` when given). */
export function assertApprover(slice: { name: string; approvers?: string[] }, identity: ApproverIdentity, as?: string): void {
  if (as !== undefined && as !== identity.username) {
    throw new FerryError('approval', `--as ${as} does not match who you are on the target cluster: ${identity.username} (context "${identity.context}")`, {
      location: { field: '--as' }, fix: `drop --as, or approve with ${as}'s own credentials (a kubeconfig context that authenticates as ${as})`,
    });
  }
  if (slice.approvers?.length && !slice.approvers.includes(identity.username)) {
    throw new FerryError('approval', `${identity.username} (context "${identity.context}") is not an approver of slice ${slice.name}`, {
      fix: `ask one of: ${slice.approvers.join(', ')} (Kubernetes user names, as \`kubectl auth whoami\` shows them)`,
    });
  }
}
