import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import type { PreflightRow } from '../apply/preflight/model.js';

/**
 * Workload identity binds a ServiceAccount to a cloud identity through the cluster's OIDC
 * issuer: the cloud trusts tokens signed by that issuer for `system:serviceaccount:NS:NAME`.
 * The target cluster has its own issuer, so the same annotation on the target gets tokens the
 * cloud refuses until the identity also trusts the target (or the annotation names another
 * identity: the `map-annotation` transform).
 */
export const WORKLOAD_IDENTITY_ANNOTATIONS: ReadonlyArray<{ annotation: string; product: string; identity: string; trust: string }> = [
  {
    annotation: 'eks.amazonaws.com/role-arn',
    product: 'AWS IRSA',
    identity: 'IAM role',
    trust: "the role's trust policy names the source cluster's OIDC issuer (oidc.eks.REGION.amazonaws.com/id/…) as its federated principal",
  },
  {
    annotation: 'iam.gke.io/gcp-service-account',
    product: 'GKE Workload Identity',
    identity: 'Google service account',
    trust: "its roles/iam.workloadIdentityUser binding names the source cluster's workload identity pool (PROJECT.svc.id.goog[NAMESPACE/NAME]), trusted through the source cluster's OIDC issuer",
  },
  {
    annotation: 'azure.workload.identity/client-id',
    product: 'Azure Workload Identity',
    identity: 'managed identity or app',
    trust: "its federated identity credential names the source cluster's OIDC issuer URL",
  },
];

/** A WARN row per ServiceAccount the plan moves that carries a workload-identity annotation. */
export function checkWorkloadIdentity(planned: { original: readonly KubeObject[]; desired: readonly KubeObject[] }): PreflightRow[] {
  const rows: PreflightRow[] = [];
  planned.desired.forEach((object, index) => {
    if (object.kind !== 'ServiceAccount') return;
    const before = planned.original[index]?.metadata.annotations ?? {};
    for (const known of WORKLOAD_IDENTITY_ANNOTATIONS) {
      const value = object.metadata.annotations?.[known.annotation];
      if (value === undefined) continue;
      const subject = `${describeObject(object)} ${known.annotation}`;
      const original = before[known.annotation];
      const remapped = original !== undefined && original !== value;
      const serviceAccount = `system:serviceaccount:${object.metadata.namespace ?? 'default'}:${object.metadata.name}`;
      rows.push({
        severity: 'WARN',
        check: 'workload-identity',
        subject,
        message: remapped
          ? `${known.product}: ${known.identity} ${original} is remapped to ${value} on the target; ${value} must trust the target cluster's OIDC issuer for ${serviceAccount}`
          : `${known.product}: ${known.identity} ${value} — ${known.trust}; on the target, tokens for ${serviceAccount} come from the target's issuer and are refused until it is trusted too`,
        fix: remapped
          ? `add the target cluster's OIDC issuer (and subject ${serviceAccount}) to ${value}'s trust`
          : `add the target cluster's OIDC issuer to the ${known.identity}'s trust (keep the source's until decommission), or name another identity with the map-annotation transform: { name: map-annotation, with: { annotation: ${known.annotation}, values: { "${value}": "<target identity>" } } }`,
      });
    }
  });
  return rows;
}
