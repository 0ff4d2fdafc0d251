import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { KubeClient } from '../../kube/client.js';
import { FerryError } from '../../util/errors.js';

/**
 * The certificate the router terminates TLS with: PEM files (`tls.certFile`/`tls.keyFile`,
 * e.g. a Secret mounted in the router's pod) or a `kubernetes.io/tls` Secret read through
 * the kubeconfig (`tls.secret: NAMESPACE/NAME`, keys `tls.crt` and `tls.key`).
 *
 * Key material never appears in a message: errors name the file, Secret or field and say
 * what is wrong with it, without echoing any of its text or OpenSSL's reading of it.
 */
export interface TlsMaterial {
  /** PEM: the certificate, then its chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** What the admin API and `ferry router` show of the certificate in use: never the key. */
export interface CertificateView {
  subject: string;
  issuer: string;
  dnsNames: string[];
  notBefore: string;
  notAfter: string;
  /** SHA-256 fingerprint of the leaf certificate, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256: string;
  source: string;
}

export interface TlsSource {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  secret?: string | undefined;
  context?: string | undefined;
  kubeconfig?: string | undefined;
}

/** Reads the configured certificate; undefined when none is configured (it then comes through the admin API). */
export async function loadTlsMaterial(source: TlsSource, file?: string): Promise<{ material: TlsMaterial; source: string } | undefined> {
  if (source.certFile !== undefined && source.keyFile !== undefined) {
    return { material: { cert: readPem(source.certFile, 'tls.certFile', file), key: readPem(source.keyFile, 'tls.keyFile', file) }, source: `file ${source.certFile}` };
  }
  if (source.secret !== undefined) {
    // Loaded only here: the Kubernetes client takes ~0.7 s to import, which every router
    // process and worker would otherwise pay at start even when it reads no Secret.
    const [{ KubeClient }, { loadKubeConfig }] = await Promise.all([import('../../kube/client.js'), import('../../kube/config.js')]);
    const client = new KubeClient(loadKubeConfig({ ...(source.context ? { context: source.context } : {}), ...(source.kubeconfig ? { kubeconfig: source.kubeconfig } : {}) }));
    try {
      return { material: await readTlsSecret(client, source.secret, 'tls.secret'), source: `Secret ${source.secret} (context ${client.contextName})` };
    } finally {
      client.close();
    }
  }
  return undefined;
}

/** The certificate and key of a `kubernetes.io/tls` Secret, `ref` = NAMESPACE/NAME. */
export async function readTlsSecret(client: KubeClient, ref: string, field: string): Promise<TlsMaterial> {
  const [namespace, name, ...rest] = ref.split('/');
  if (!namespace || !name || rest.length > 0) throw new FerryError('config', `${field} must name a Secret as NAMESPACE/NAME`, { location: { field }, fix: 'e.g. tls.secret: shop/shop-tls' });
  const secret = await client
    .request<{ type?: string; data?: Record<string, string> }>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}` })
    .catch((error: FerryError) => {
      if (error.code === 'http-404') throw new FerryError('tls-secret', `Secret ${namespace}/${name} does not exist on cluster "${client.contextName}"`, { location: { field, object: `Secret ${namespace}/${name}` }, fix: `create it (kubectl create secret tls ${name} -n ${namespace} --cert=… --key=…) or correct ${field}` });
      throw error;
    });
  const where = { field, object: `Secret ${namespace}/${name}` };
  if (secret.type !== undefined && secret.type !== 'kubernetes.io/tls') {
    throw new FerryError('tls-secret', `Secret ${namespace}/${name} is of type ${secret.type}, not kubernetes.io/tls`, { location: where, fix: 'create it with `kubectl create secret tls`' });
  }
  const cert = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (cert === undefined || key === undefined) {
    throw new FerryError('tls-secret', `Secret ${namespace}/${name} lacks ${cert === undefined ? 'tls.crt' : 'tls.key'}`, { location: where, fix: 'a kubernetes.io/tls Secret holds tls.crt and tls.key' });
  }
  return { cert: Buffer.from(cert, 'base64').toString('utf8'), key: Buffer.from(key, 'base64').toString('utf8') };
}

/**
 * Checks that the pair can serve (parsable, key matches certificate) and returns the
 * options for tls.Server; a FerryError naming `source` otherwise.
 */
export function secureContextOptions(material: TlsMaterial, source: string): SecureContextOptions {
  const options: SecureContextOptions = { cert: material.cert, key: material.key };
  try {
    createSecureContext(options);
  } catch (error) {
    // OpenSSL's message is not echoed: it can quote the start of what it failed to read.
    const reason = /mismatch/i.test((error as Error).message) ? 'the key does not belong to the certificate' : 'the certificate or key is not valid PEM';
    throw new FerryError('tls', `cannot use the TLS certificate from ${source}: ${reason}`, { location: { field: 'tls' }, fix: 'give a PEM certificate (chain) and its PEM private key' });
  }
  return options;
}

export function describeCertificate(cert: string, source: string): CertificateView {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new FerryError('tls', `the certificate from ${source} is not a valid PEM certificate`, { location: { field: 'tls' }, fix: 'give a PEM certificate' });
  }
  const dnsNames = (x509.subjectAltName ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4));
  return { subject: x509.subject.replace(/\n/g, ', '), issuer: x509.issuer.replace(/\n/g, ', '), dnsNames, notBefore: new Date(x509.validFrom).toISOString(), notAfter: new Date(x509.validTo).toISOString(), fingerprint256: x509.fingerprint256, source };
}

function readPem(path: string, field: string, file: string | undefined): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new FerryError('config', `cannot read ${field} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { location: { file, field }, fix: 'point it at a readable PEM file' });
  }
}
