/**
 * Test helpers for src/trust/: sealing keys made by the real openssl, an unsealing written here
 * from the sealed-secrets format (independent of Ferry's sealing code), the CRDs of
 * sealed-secrets and cert-manager for the lab, and a KubeClient that records what was read.
 */
import { execFileSync } from 'node:child_process';
import { constants, createDecipheriv, privateDecrypt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, type KubeRequest } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';

export interface SealingKey {
  certPem: string;
  keyPem: string;
}

/** An RSA key and its self-signed certificate, as the sealed-secrets controller makes them. */
export function makeSealingKey(options: { bits?: number; days?: number; cn?: string } = {}): SealingKey {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-sealing-key-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', `rsa:${options.bits ?? 2048}`, '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-subj', `/CN=${options.cn ?? 'sealed-secret'}`, '-days', String(options.days ?? 365)], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'tls.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'tls.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Decrypts one sealed value with the controller's private key, following the sealed-secrets
 * format: uint16be length of the RSA-OAEP(SHA-256, label) ciphertext, that ciphertext (the
 * AES-256 session key), then AES-GCM ciphertext and 16-byte tag under a zero 12-byte nonce.
 */
export function unsealValue(keyPem: string, sealedBase64: string, label: string): Buffer {
  const bytes = Buffer.from(sealedBase64, 'base64');
  const rsaLength = bytes.readUInt16BE(0);
  const wrapped = bytes.subarray(2, 2 + rsaLength);
  const body = bytes.subarray(2 + rsaLength);
  const sessionKey = privateDecrypt({ key: keyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(label, 'utf8') }, wrapped);
  const decipher = createDecipheriv('aes-256-gcm', sessionKey, Buffer.alloc(12));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
}

/** The two CRDs, schema-less (preserve unknown fields), enough for the lab to serve the kinds. */
export const TRUST_CRDS = ['bitnami.com|SealedSecret|sealedsecrets|v1alpha1', 'cert-manager.io|Certificate|certificates|v1']
  .map((entry) => {
    const [group, kind, plural, version] = entry.split('|') as [string, string, string, string];
    return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.${group}}
spec:
  group: ${group}
  names: {kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}, listKind: ${kind}List}
  scope: Namespaced
  versions:
  - name: ${version}
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;
  })
  .join('---\n');

/** What a recorded client was asked for: request paths, and each `data` key read from what came back. */
export interface AccessLog {
  requests: string[];
  dataReads: string[];
}

/**
 * A real KubeClient whose answers' Secret `data` maps record each key read (a Proxy), so a
 * test can say which values Ferry looked at, not only which objects it fetched.
 */
export function recordingClient(kubeconfig: string, context: string): { client: KubeClient; log: AccessLog } {
  const client = new KubeClient(loadKubeConfig({ kubeconfig, context }));
  const log: AccessLog = { requests: [], dataReads: [] };
  const request = client.request.bind(client);
  const watch = (object: any, where: string) => {
    if (object && typeof object === 'object' && object.data && typeof object.data === 'object') {
      const name = `${object.metadata?.namespace}/${object.metadata?.name}`;
      object.data = new Proxy(object.data, {
        get(target, key, receiver) {
          if (typeof key === 'string') log.dataReads.push(`${where} ${name} ${key}`);
          return Reflect.get(target, key, receiver);
        },
      });
    }
    return object;
  };
  (client as { request: KubeClient['request'] }).request = async <T>(input: KubeRequest): Promise<T> => {
    log.requests.push(`${input.method ?? 'GET'} ${input.path}${input.query?.labelSelector ? `?labelSelector=${input.query.labelSelector}` : ''}`);
    const answer: any = await request<T>(input);
    if (answer && Array.isArray(answer.items)) answer.items.forEach((item: unknown) => watch(item, context));
    else watch(answer, context);
    return answer as T;
  };
  return { client, log };
}
