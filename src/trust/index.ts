import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import type { MigrationPlan } from '../plan/schema.js';
import type { PreflightRow } from '../apply/preflight/model.js';
import { toFerryError } from '../util/errors.js';
import { checkCertificates } from './cert-manager.js';
import { checkWorkloadIdentity } from './workload-identity.js';
import { SEALED_SECRET_GROUP, clusterTextReader, isSealedSecret, resealSealedSecrets, targetSealingCertificate, type ClusterTextReader, type ResealedSecret } from './sealed-secrets.js';

export { trustSchema, type TrustSettings } from './schema.js';

interface Clusters {
  kubeconfig?: string | undefined;
  targetContext?: string | undefined;
}

/**
 * What apply writes for trust objects (called by `applySlice` between `desiredObjects` and the
 * apply): each SealedSecret re-sealed for the target controller, the unsealed Secret left out.
 * Plans without SealedSecrets pass through untouched and no cluster is read.
 */
export async function carryTrust(plan: MigrationPlan, planned: { original: readonly KubeObject[]; desired: readonly KubeObject[] }, target: KubeClient, clusters: Clusters = {}): Promise<{ desired: KubeObject[]; resealed: ResealedSecret[] }> {
  if (!planned.desired.some(isSealedSecret)) return { desired: [...planned.desired], resealed: [] };
  const source = sourceOf(plan, clusters);
  try {
    return await resealSealedSecrets(planned, {
      source,
      certificate: () => targetSealingCertificate({ target, readText: targetText(plan, clusters), ...(plan.spec.trust?.sealedSecrets ? { settings: plan.spec.trust.sealedSecrets } : {}) }),
      current: (namespace, name) => targetSealedSecret(target, namespace, name),
    });
  } finally {
    source?.close();
  }
}

/**
 * A rollback re-creating a SealedSecret on the source from the target's copy: that copy is
 * sealed for the target controller, so it is sealed again for the source controller's public
 * certificate (tls.crt of its active key Secret) from the Secret the target controller
 * unsealed. Other objects pass through untouched.
 */
export async function sealedForSource(copy: KubeObject, clusters: { source: KubeClient; target: KubeClient }): Promise<KubeObject> {
  if (!isSealedSecret(copy)) return copy;
  const { desired } = await resealSealedSecrets({ original: [copy], desired: [copy] }, { source: clusters.target, side: 'target', certificate: () => targetSealingCertificate({ target: clusters.source }) });
  return desired[0]!;
}

/**
 * Preflight rows for trust: SealedSecrets (a certificate to seal for on the target, a live
 * source, the unsealed Secret there), cert-manager Certificates and their Secrets, and
 * workload-identity annotations.
 */
export async function checkTrust(plan: MigrationPlan, planned: { original: readonly KubeObject[]; desired: readonly KubeObject[] }, sourceObjects: readonly KubeObject[], clients: { source: KubeClient | undefined; target: KubeClient } & Clusters): Promise<PreflightRow[]> {
  return [...(await checkSealedSecrets(plan, planned, clients)), ...checkCertificates(plan, planned, sourceObjects), ...checkWorkloadIdentity(planned)];
}

async function checkSealedSecrets(plan: MigrationPlan, planned: { original: readonly KubeObject[]; desired: readonly KubeObject[] }, clients: { source: KubeClient | undefined; target: KubeClient } & Clusters): Promise<PreflightRow[]> {
  const sealed = planned.original.filter(isSealedSecret);
  if (sealed.length === 0) return [];
  const rows: PreflightRow[] = [];
  try {
    const certificate = await targetSealingCertificate({ target: clients.target, readText: targetText(plan, clients), ...(plan.spec.trust?.sealedSecrets ? { settings: plan.spec.trust.sealedSecrets } : {}) });
    rows.push({ severity: 'OK', check: 'sealed-secrets', subject: 'the target sealing certificate', message: `${sealed.length} SealedSecret(s) will be re-sealed for ${certificate.from} (sha256 ${certificate.fingerprint}, valid until ${certificate.notAfter}); no private key is read` });
  } catch (error) {
    const failure = toFerryError(error);
    rows.push({ severity: 'BLOCK', check: 'sealed-secrets', subject: 'the target sealing certificate', message: failure.message, fix: failure.fix ?? 'install the sealed-secrets controller on the target' });
  }
  for (const object of sealed) {
    const subject = describeObject(object);
    if (!clients.source) {
      rows.push({ severity: 'BLOCK', check: 'sealed-secrets', subject, message: 'is re-sealed from the Secret the source controller unsealed, and the plan reads the source from files', fix: 'set spec.source.context to the live source cluster' });
      continue;
    }
    const namespace = object.metadata.namespace ?? 'default';
    // Existence and ownership only: the values are dropped as soon as they arrive.
    const owner = await clients.source
      .request<KubeObject>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(object.metadata.name)}` })
      .then((secret) => secret.metadata.ownerReferences?.find((reference) => reference.kind === 'SealedSecret' && reference.name === object.metadata.name))
      .catch((error) => {
        if (toFerryError(error).code === 'http-404') return undefined;
        throw error;
      });
    rows.push(owner
      ? { severity: 'OK', check: 'sealed-secrets', subject, message: 'unsealed on the source: its values will be sealed again for the target controller' }
      : { severity: 'BLOCK', check: 'sealed-secrets', subject, message: `the source controller has not unsealed it (no Secret ${namespace}/${object.metadata.name} owned by it)`, fix: 'check the source sealed-secrets controller can decrypt it (`kubectl describe sealedsecret`)' });
  }
  return rows;
}

/** The target's SealedSecret (the kind's first served version of bitnami.com), or undefined. */
async function targetSealedSecret(target: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return target.request<KubeObject>({ path: `/apis/${SEALED_SECRET_GROUP}/v1alpha1/namespaces/${encodeURIComponent(namespace)}/sealedsecrets/${encodeURIComponent(name)}` }).catch((error) => {
    const code = toFerryError(error).code;
    if (code === 'http-404') return undefined;
    throw error;
  });
}

function sourceOf(plan: MigrationPlan, clusters: Clusters): KubeClient | undefined {
  const { context } = plan.spec.source;
  if (!context) return undefined;
  const kubeconfig = plan.spec.source.kubeconfig ?? clusters.kubeconfig;
  return new KubeClient(loadKubeConfig({ context, ...(kubeconfig ? { kubeconfig } : {}) }));
}

function targetText(plan: MigrationPlan, clusters: Clusters): ClusterTextReader | undefined {
  const context = clusters.targetContext ?? plan.spec.target.context;
  if (!context) return undefined;
  const kubeconfig = plan.spec.target.kubeconfig ?? clusters.kubeconfig;
  return clusterTextReader(loadKubeConfig({ context, ...(kubeconfig ? { kubeconfig } : {}) }));
}
