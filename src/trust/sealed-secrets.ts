import { X509Certificate, constants, createCipheriv, createHash, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import type { KubeClient } from '../kube/client.js';
import type { KubeConfig } from '../kube/client-node.js';
import type { KubeObject } from '../kube/object.js';
import { nodeId, type DependencyGraph, type NodeId } from '../graph/model.js';
import { describeObject } from '../kube/object.js';
import { FerryError, toFerryError } from '../util/errors.js';
import type { TrustSettings } from './schema.js';

/**
 * SealedSecrets (bitnami.com/v1alpha1) are encrypted for one controller's key, so a copy is
 * useless on another cluster, and moving the source controller's private key would let the
 * target decrypt everything ever sealed for the source. Ferry instead reads the Secret the
 * source controller unsealed and seals its values again for the target controller's public
 * certificate: no private key is read or moved.
 *
 * The format is sealed-secrets' own hybrid encryption (pkg/crypto/crypto.go, written here
 * again with node:crypto because no npm library produces it): per value a random 32-byte
 * AES-256-GCM session key used once with a zero nonce, the session key encrypted with
 * RSA-OAEP SHA-256 under a label that binds the value to its scope, and
 * `uint16be(len(rsa)) || rsa || aes-gcm(ciphertext || tag)`, base64.
 */

export const SEALED_SECRET_GROUP = 'bitnami.com';
/** The label upstream's controller puts on its key Secrets; `active` marks the ones it seals with. */
export const SEALING_KEY_LABEL = 'sealedsecrets.bitnami.com/sealed-secrets-key';
const CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';
const NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';
const SESSION_KEY_BYTES = 32;
const GCM_NONCE_BYTES = 12;

export type SealingScope = 'strict' | 'namespace-wide' | 'cluster-wide';

/** A target controller's public key, where it came from, and what identifies it in reports. */
export interface SealingCertificate {
  publicKey: KeyObject;
  /** SHA-256 fingerprint of the certificate (as `openssl x509 -fingerprint -sha256`). */
  fingerprint: string;
  notAfter: string;
  /** Where it was found, e.g. `Secret kube-system/sealed-secrets-key7x2 (tls.crt) on target`. */
  from: string;
}

export function isSealedSecret(object: Pick<KubeObject, 'apiVersion' | 'kind'>): boolean {
  return object.kind === 'SealedSecret' && object.apiVersion.split('/')[0] === SEALED_SECRET_GROUP;
}

/** The scope a SealedSecret was sealed for, from its annotations (upstream reads the same two). */
export function sealingScope(sealed: Pick<KubeObject, 'metadata'>): SealingScope {
  const annotations = sealed.metadata.annotations ?? {};
  if (annotations[CLUSTER_WIDE] === 'true') return 'cluster-wide';
  if (annotations[NAMESPACE_WIDE] === 'true') return 'namespace-wide';
  return 'strict';
}

/** The RSA-OAEP label: `namespace/name` (strict), `namespace` (namespace-wide), empty (cluster-wide). */
export function encryptionLabel(scope: SealingScope, namespace: string, name: string): Buffer {
  if (scope === 'cluster-wide') return Buffer.alloc(0);
  return Buffer.from(scope === 'namespace-wide' ? namespace : `${namespace}/${name}`, 'utf8');
}

/** Seals one value for a public key, in the sealed-secrets format (base64). */
export function sealValue(publicKey: KeyObject, plaintext: Uint8Array, label: Uint8Array): string {
  const sessionKey = randomBytes(SESSION_KEY_BYTES);
  try {
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, sessionKey);
    // The session key encrypts exactly one value, so the zero nonce upstream uses is safe.
    const cipher = createCipheriv('aes-256-gcm', sessionKey, Buffer.alloc(GCM_NONCE_BYTES));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(wrapped.length);
    return Buffer.concat([length, wrapped, sealed]).toString('base64');
  } finally {
    sessionKey.fill(0);
  }
}

/** A PEM certificate's public key; anything else (a private key included) is refused. */
export function sealingCertificateFromPem(pem: string, from: string): SealingCertificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    // The text is not quoted: whatever was there might not be meant for a terminal.
    throw new FerryError('trust.sealed-secrets', `${from} does not hold a PEM certificate`, { location: { object: from }, fix: 'give the controller\'s public certificate (`kubeseal --fetch-cert` prints it)' });
  }
  if (certificate.publicKey.asymmetricKeyType !== 'rsa') {
    throw new FerryError('trust.sealed-secrets', `${from} holds a ${certificate.publicKey.asymmetricKeyType} certificate; sealed-secrets keys are RSA`, { location: { object: from }, fix: 'give the sealed-secrets controller\'s certificate' });
  }
  return { publicKey: certificate.publicKey, fingerprint: certificate.fingerprint256, notAfter: new Date(certificate.validTo).toISOString(), from };
}

/** Reads text (not JSON) through a cluster's API server: the controller's cert.pem via the service proxy. */
export type ClusterTextReader = (path: string) => Promise<string>;

/** A `ClusterTextReader` with the kubeconfig's own authentication, as KubeClient makes requests. */
export function clusterTextReader(config: KubeConfig): ClusterTextReader {
  return async (path) => {
    const url = new URL(path, config.getCurrentCluster()?.server ?? '');
    const options: https.RequestOptions = { method: 'GET', headers: { accept: 'application/x-pem-file, text/plain' } };
    await config.applyToHTTPSOptions(options);
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise<string>((resolve, reject) => {
      const request = transport.request(url, options, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          if ((response.statusCode ?? 0) >= 400) reject(new FerryError(`http-${response.statusCode}`, `GET ${url.pathname} answered ${response.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      request.on('error', reject);
      request.setTimeout(15_000, () => request.destroy(new Error('timed out after 15 s')));
      request.end();
    });
  };
}

export interface CertificateLookup {
  /** The target cluster. */
  target: KubeClient;
  /** Text through the target's API server (the service proxy); without it only Secrets are read. */
  readText?: ClusterTextReader | undefined;
  settings?: TrustSettings['sealedSecrets'];
}

/**
 * The target controller's public certificate: the plan's (`spec.trust.sealedSecrets.certificate`,
 * a file or one key of a Secret on the target), else the controller's `/v1/cert.pem` through the
 * target API server's service proxy, else `tls.crt` of the newest active key Secret on the
 * target. Of a key Secret only `tls.crt` is read; `tls.key` is never touched.
 */
export async function targetSealingCertificate(lookup: CertificateLookup): Promise<SealingCertificate> {
  const given = lookup.settings?.certificate;
  if (given && 'file' in given) {
    let pem: string;
    try {
      pem = readFileSync(given.file, 'utf8');
    } catch (error) {
      throw new FerryError('trust.sealed-secrets', `cannot read the sealing certificate file ${given.file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { location: { field: 'spec.trust.sealedSecrets.certificate.file' }, fix: 'write the target controller\'s certificate there (`kubeseal --fetch-cert > cert.pem` against the target)' });
    }
    return sealingCertificateFromPem(pem, `file ${given.file}`);
  }
  if (given && 'secret' in given) {
    const { namespace, name, key } = given.secret;
    const secret = await getSecret(lookup.target, namespace, name);
    const from = `Secret ${namespace}/${name} (${key}) on ${lookup.target.contextName}`;
    if (!secret) throw new FerryError('trust.sealed-secrets', `${from} does not exist`, { location: { field: 'spec.trust.sealedSecrets.certificate.secret' }, fix: 'correct the reference, or leave it out to fetch the certificate from the target controller' });
    return sealingCertificateFromPem(publicCertificateOf(secret, key, from), from);
  }
  const controller = { namespace: lookup.settings?.controller?.namespace ?? 'kube-system', service: lookup.settings?.controller?.service ?? 'sealed-secrets-controller' };
  const tried: string[] = [];
  const service = await lookup.target.request<KubeObject>({ path: `/api/v1/namespaces/${encodeURIComponent(controller.namespace)}/services/${encodeURIComponent(controller.service)}` }).catch((error) => {
    if (toFerryError(error).code === 'http-404') return undefined;
    throw error;
  });
  if (service && lookup.readText) {
    const port = ((service.spec as { ports?: Array<{ name?: string; port?: number }> } | undefined)?.ports ?? [])[0];
    const portPart = port?.name ? `:${port.name}` : port?.port ? `:${port.port}` : '';
    const path = `/api/v1/namespaces/${encodeURIComponent(controller.namespace)}/services/${encodeURIComponent(controller.service)}${portPart}/proxy/v1/cert.pem`;
    try {
      return sealingCertificateFromPem(await lookup.readText(path), `Service ${controller.namespace}/${controller.service} /v1/cert.pem on ${lookup.target.contextName}`);
    } catch (error) {
      tried.push(`Service ${controller.namespace}/${controller.service} /v1/cert.pem: ${toFerryError(error).message}`);
    }
  } else {
    tried.push(`no Service ${controller.namespace}/${controller.service}`);
  }
  const keys = await lookup.target.request<{ items?: KubeObject[] }>({ path: `/api/v1/namespaces/${encodeURIComponent(controller.namespace)}/secrets`, query: { labelSelector: `${SEALING_KEY_LABEL}=active` } });
  // The controller seals with its newest active key.
  const newest = [...(keys.items ?? [])].sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0];
  if (newest) {
    const from = `Secret ${controller.namespace}/${newest.metadata.name} (tls.crt) on ${lookup.target.contextName}`;
    return sealingCertificateFromPem(publicCertificateOf(newest, 'tls.crt', from), from);
  }
  tried.push(`no Secret labelled ${SEALING_KEY_LABEL}=active in ${controller.namespace}`);
  throw new FerryError('trust.sealed-secrets', `no sealed-secrets controller certificate found on the target ${lookup.target.contextName} (${tried.join('; ')})`, {
    location: { field: 'spec.trust.sealedSecrets' },
    fix: 'install the sealed-secrets controller on the target, or give its certificate: spec.trust.sealedSecrets.certificate: { file: cert.pem } (`kubeseal --fetch-cert` against the target writes it)',
  });
}

/** One key of a Secret, decoded: the only field read, so a key Secret's tls.key is never looked at. */
function publicCertificateOf(secret: KubeObject, key: string, from: string): string {
  const data = (secret as { data?: Record<string, string> }).data;
  const encoded = data?.[key];
  if (typeof encoded !== 'string') throw new FerryError('trust.sealed-secrets', `${from} has no key ${key}`, { location: { object: from }, fix: 'name the key holding the public certificate' });
  return Buffer.from(encoded, 'base64').toString('utf8');
}

async function getSecret(client: KubeClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return client.request<KubeObject>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}` }).catch((error) => {
    if (toFerryError(error).code === 'http-404') return undefined;
    throw error;
  });
}

/** What was re-sealed, for reports: names and keys, never values. */
export interface ResealedSecret {
  object: string;
  scope: SealingScope;
  keys: string[];
  certificate: string;
}

export interface ResealOptions {
  /** The live source cluster, where the source controller's unsealed Secrets are; undefined when the source is exported YAML. */
  source: KubeClient | undefined;
  /** The target controller's certificate, looked up only when there is something to seal. */
  certificate: () => Promise<SealingCertificate>;
  /** Which cluster `source` is, in messages (default `source`; a rollback re-seals from the target's copy). */
  side?: 'source' | 'target';
  /** The target's current copy of a SealedSecret, if any: kept when sealed from the same source ciphertext for the same certificate. */
  current?: ((namespace: string, name: string) => Promise<KubeObject | undefined>) | undefined;
}

/**
 * On a re-sealed SealedSecret: a hash of the source's ciphertext and the target certificate's
 * fingerprint it was sealed from. Only ciphertext is hashed (a hash of the values would let
 * anyone guess weak ones), and it lets a second apply keep the target's copy: each sealing
 * draws new session keys, so sealing again would change the object on every apply.
 */
export const RESEALED_FROM_ANNOTATION = 'ferry.dev/resealed-from';

function resealedFrom(original: KubeObject, certificate: SealingCertificate): string {
  const spec = (original.spec ?? {}) as { encryptedData?: Record<string, unknown> };
  const entries = Object.entries(spec.encryptedData ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `sha256:${createHash('sha256').update(JSON.stringify([entries, certificate.fingerprint])).digest('hex')}`;
}

/**
 * Replaces each SealedSecret among the objects to apply with one sealed for the target
 * controller, from the Secret the source controller unsealed (same name and namespace, owned
 * by the SealedSecret). `original[i]` is `desired[i]` as the source has it (before transforms).
 * The unsealed Secret is not applied: the target controller makes it from the SealedSecret.
 */
export async function resealSealedSecrets(planned: { original: readonly KubeObject[]; desired: readonly KubeObject[] }, options: ResealOptions): Promise<{ desired: KubeObject[]; resealed: ResealedSecret[] }> {
  const indexes = planned.desired.flatMap((object, index) => (isSealedSecret(object) ? [index] : []));
  if (indexes.length === 0) return { desired: [...planned.desired], resealed: [] };
  const certificate = await options.certificate();
  const desired = [...planned.desired];
  const resealed: ResealedSecret[] = [];
  const unsealedNames = new Set<string>();
  for (const index of indexes) {
    const original = planned.original[index] ?? planned.desired[index]!;
    const result = await resealOne(original, planned.desired[index]!, certificate, options.source, options.current, options.side ?? 'source');
    desired[index] = result.object;
    resealed.push(result.report);
    unsealedNames.add(`${result.object.metadata.namespace ?? ''}/${result.object.metadata.name}`);
  }
  return {
    desired: desired.filter((object) => !(object.kind === 'Secret' && object.apiVersion === 'v1' && unsealedNames.has(`${object.metadata.namespace ?? ''}/${object.metadata.name}`))),
    resealed,
  };
}

async function resealOne(original: KubeObject, desired: KubeObject, certificate: SealingCertificate, source: KubeClient | undefined, current: ResealOptions['current'], side: 'source' | 'target'): Promise<{ object: KubeObject; report: ResealedSecret }> {
  const name = describeObject(original);
  const namespace = original.metadata.namespace ?? 'default';
  const from = resealedFrom(original, certificate);
  const target = { namespace: desired.metadata.namespace ?? 'default', name: desired.metadata.name };
  const scope = sealingScope(desired);
  const existing = await current?.(target.namespace, target.name);
  const existingData = (existing?.spec as { encryptedData?: Record<string, string> } | undefined)?.encryptedData;
  if (existing?.metadata.annotations?.[RESEALED_FROM_ANNOTATION] === from && existingData) {
    return { object: withSealed(desired, existingData, from), report: { object: describeObject(desired), scope, keys: Object.keys(existingData).sort(), certificate: certificate.fingerprint } };
  }
  if (!source) {
    throw new FerryError('trust.sealed-secrets', `${name} must be re-sealed for the target from the Secret the source controller unsealed, and the plan's source is exported YAML`, {
      location: { object: name, field: 'spec.source' },
      fix: 'set spec.source.context to the live source cluster (the SealedSecret\'s private key stays there; Ferry reads only the unsealed Secret)',
    });
  }
  const secret = await getSecret(source, namespace, original.metadata.name);
  const owned = secret?.metadata.ownerReferences?.some((owner) => owner.kind === 'SealedSecret' && owner.name === original.metadata.name && (!original.metadata.uid || owner.uid === original.metadata.uid));
  if (!secret || !owned) {
    throw new FerryError('trust.sealed-secrets', `${name}: the ${side} controller has not unsealed it (${secret ? `Secret ${namespace}/${original.metadata.name} exists but is not owned by the SealedSecret` : `no Secret ${namespace}/${original.metadata.name} on the ${side}`})`, {
      location: { object: name },
      fix: `check the ${side} sealed-secrets controller can decrypt it (kubectl describe sealedsecret shows why not); Ferry re-seals only what a controller unsealed`,
    });
  }
  const values = (secret as { data?: Record<string, string> }).data ?? {};
  const spec = (desired.spec ?? {}) as { encryptedData?: Record<string, unknown>; template?: Record<string, unknown>; data?: unknown };
  // Upstream's template.data renders extra keys from the decrypted ones: re-seal what was sealed, keep the template.
  const keys = spec.encryptedData ? Object.keys(spec.encryptedData) : Object.keys(values);
  const missing = keys.filter((key) => values[key] === undefined);
  if (missing.length > 0) {
    throw new FerryError('trust.sealed-secrets', `${name}: the unsealed Secret has no key ${missing.join(', ')}`, { location: { object: name, field: 'spec.encryptedData' }, fix: `let the ${side} controller unseal the current version (its Secret is behind the SealedSecret), then try again` });
  }
  const label = encryptionLabel(scope, target.namespace, target.name);
  const encryptedData: Record<string, string> = {};
  for (const key of keys.sort()) {
    const plain = Buffer.from(values[key]!, 'base64');
    encryptedData[key] = sealValue(certificate.publicKey, plain, label);
    plain.fill(0);
  }
  return { object: withSealed(desired, encryptedData, from), report: { object: describeObject(desired), scope, keys, certificate: certificate.fingerprint } };
}

/** The SealedSecret to apply: the planned one with the target's ciphertext (the legacy single-blob `data` dropped). */
function withSealed(desired: KubeObject, encryptedData: Record<string, string>, from: string): KubeObject {
  const { data: _legacy, encryptedData: _source, ...rest } = (desired.spec ?? {}) as Record<string, unknown>;
  const object: KubeObject = { ...structuredClone(desired), spec: { ...structuredClone(rest), encryptedData: { ...encryptedData } } };
  object.metadata.annotations = { ...object.metadata.annotations, [RESEALED_FROM_ANNOTATION]: from };
  delete object.status;
  return object;
}

/** `Secret/namespace/name` of each Secret a SealedSecret among the objects makes (its controller writes it on the cluster). */
export function secretsMadeBySealedSecrets(objects: readonly KubeObject[]): Set<string> {
  return new Set(objects.filter(isSealedSecret).map((object) => nodeId('Secret', object.metadata.namespace, object.metadata.name)));
}

/**
 * Plan generation: a SealedSecret goes with the first slice (by `rank`) that uses the Secret its
 * controller makes. That Secret is controller-owned, so the inventory skips it and the graph only
 * sees references to a missing Secret; without this the SealedSecret would wait for the
 * namespace's last slice while its users' pods wait for the Secret. Changes `assigned` in place.
 */
export function placeSealedSecrets(assigned: Map<NodeId, string>, graph: Pick<DependencyGraph, 'dangling'>, objects: readonly KubeObject[], rank: ReadonlyMap<string, number>): void {
  for (const sealed of objects.filter(isSealedSecret)) {
    const id = nodeId(sealed.kind, sealed.metadata.namespace, sealed.metadata.name);
    if (assigned.has(id)) continue;
    const secret = nodeId('Secret', sealed.metadata.namespace, sealed.metadata.name);
    let best: string | undefined;
    for (const reference of graph.dangling) {
      if (reference.kind !== 'missing-object' || reference.target !== secret) continue;
      const slice = assigned.get(reference.from);
      if (slice !== undefined && (best === undefined || rank.get(slice)! < rank.get(best)!)) best = slice;
    }
    if (best !== undefined) assigned.set(id, best);
  }
}
