import { X509Certificate } from 'node:crypto';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { nodeId, type NodeId } from '../graph/model.js';
import type { MigrationPlan } from '../plan/schema.js';
import { parseDuration } from '../analysis/gates-schema.js';
import type { PreflightRow } from '../apply/preflight/model.js';

/**
 * cert-manager Certificates move with the Secrets they were issued into. The target's
 * cert-manager then finds a Secret holding a valid certificate for the Certificate's spec and
 * marks it Ready without issuing again: an ACME issuer (Let's Encrypt) allows only a few
 * duplicate certificates a week, and a migration of many names would spend them all.
 * Order on the target is already right: Secrets are applied in an earlier tier than custom
 * resources (src/apply/order.ts), so the Secret is there before the Certificate.
 */

export const CERT_MANAGER_GROUP = 'cert-manager.io';

export function isCertificate(object: Pick<KubeObject, 'apiVersion' | 'kind'>): boolean {
  return object.kind === 'Certificate' && object.apiVersion.split('/')[0] === CERT_MANAGER_GROUP;
}

/** The Secret a Certificate is issued into (`spec.secretName`), in the Certificate's namespace. */
export function certificateSecret(certificate: KubeObject): { namespace: string; name: string } | undefined {
  const name = (certificate.spec as { secretName?: unknown } | undefined)?.secretName;
  return typeof name === 'string' && name.length > 0 ? { namespace: certificate.metadata.namespace ?? 'default', name } : undefined;
}

/**
 * Plan generation: a Certificate and its Secret go in one slice — the slice that first needs
 * the Secret (e.g. an Ingress's TLS), so it is still on the target before its users, else the
 * Certificate's; both stay unassigned (and move together in the namespace's last slice) when
 * neither is. Changes `assigned` in place.
 */
export function pairCertificatesWithSecrets(assigned: Map<NodeId, string>, objects: readonly KubeObject[]): void {
  const present = new Set(objects.map((object) => nodeId(object.kind, object.metadata.namespace, object.metadata.name)));
  for (const certificate of objects.filter(isCertificate)) {
    const secret = certificateSecret(certificate);
    if (!secret) continue;
    const secretId = nodeId('Secret', secret.namespace, secret.name);
    if (!present.has(secretId)) continue;
    const certificateId = nodeId(certificate.kind, certificate.metadata.namespace, certificate.metadata.name);
    const slice = assigned.get(secretId) ?? assigned.get(certificateId);
    if (slice === undefined) continue;
    assigned.set(certificateId, slice);
    assigned.set(secretId, slice);
  }
}

/**
 * How long the source and target both live for a slice, from the plan's defaults: each wave's
 * mirroring and traffic steps, then the soak before decommission. A certificate that expires
 * inside it gets renewed by one side's cert-manager mid-migration.
 */
export function migrationWindowMs(plan: MigrationPlan): number {
  const traffic = plan.spec.defaults.traffic;
  const perWave = (traffic.mirror?.duration ? parseDuration(traffic.mirror.duration) : 0) + traffic.steps.length * parseDuration(traffic.stepWindow);
  return plan.spec.waves.length * perWave + parseDuration(plan.spec.defaults.decommission.after);
}

/**
 * Preflight rows for each Certificate the plan moves: WARN when its Secret is missing on the
 * source or in another slice (the target would issue again), or when the certificate expires
 * within the migration window; OK with the expiry otherwise. Reads only `tls.crt` (public).
 */
export function checkCertificates(plan: MigrationPlan, planned: { desired: readonly KubeObject[] }, sourceObjects: readonly KubeObject[], now = Date.now()): PreflightRow[] {
  const sliceOf = new Map<string, string>();
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    for (const ref of slice.resources) sliceOf.set(nodeId(ref.kind, ref.namespace, ref.name), slice.name);
  }
  const secrets = new Map(sourceObjects.filter((object) => object.kind === 'Secret').map((object) => [nodeId('Secret', object.metadata.namespace, object.metadata.name), object]));
  const window = migrationWindowMs(plan);
  const rows: PreflightRow[] = [];
  for (const certificate of planned.desired.filter(isCertificate)) {
    const subject = describeObject(certificate);
    const secretRef = certificateSecret(certificate);
    if (!secretRef) continue;
    const secretId = nodeId('Secret', secretRef.namespace, secretRef.name);
    const secretName = `Secret ${secretRef.namespace}/${secretRef.name}`;
    const secret = secrets.get(secretId);
    if (!secret) {
      rows.push({ severity: 'WARN', check: 'certificate', subject, message: `its ${secretName} is missing on the source: the target's cert-manager will issue a new certificate (ACME issuers rate-limit duplicates)`, fix: 'let the source issue it first, or accept a new issuance on the target' });
      continue;
    }
    const certificateSlice = sliceOf.get(nodeId(certificate.kind, certificate.metadata.namespace, certificate.metadata.name));
    const secretSlice = sliceOf.get(secretId);
    if (certificateSlice !== undefined && secretSlice !== certificateSlice) {
      rows.push({ severity: 'WARN', check: 'certificate', subject, message: `its ${secretName} is ${secretSlice ? `in slice ${secretSlice}` : 'in no slice'}, not with the Certificate in slice ${certificateSlice}: the target would issue again before the Secret arrives`, fix: `move ${secretName} into slice ${certificateSlice} (\`ferry plan\` puts them together)` });
      continue;
    }
    const notAfter = expiryOf(secret);
    if (notAfter === undefined) {
      rows.push({ severity: 'WARN', check: 'certificate', subject, message: `its ${secretName} holds no readable certificate (tls.crt): the target's cert-manager will issue a new one`, fix: 'check the Certificate is Ready on the source before the migration' });
    } else if (notAfter - now < window) {
      rows.push({ severity: 'WARN', check: 'certificate', subject, message: `its certificate expires ${new Date(notAfter).toISOString()}, within the migration window (~${Math.round(window / 3_600_000)} h): cert-manager renews it on whichever side runs, and the other side keeps the old one`, fix: 'renew it on the source before the migration (`cmctl renew`), or shorten the plan\'s steps and soak' });
    } else {
      rows.push({ severity: 'OK', check: 'certificate', subject, message: `moves with ${secretName} (valid until ${new Date(notAfter).toISOString()}): the target's cert-manager will not issue again` });
    }
  }
  return rows;
}

/** The leaf certificate's expiry from the Secret's public `tls.crt` (a PEM chain: the first is the leaf). */
function expiryOf(secret: KubeObject): number | undefined {
  const encoded = (secret as { data?: Record<string, string> }).data?.['tls.crt'];
  if (typeof encoded !== 'string') return undefined;
  try {
    const leaf = new X509Certificate(Buffer.from(encoded, 'base64'));
    return new Date(leaf.validTo).getTime();
  } catch {
    return undefined;
  }
}
