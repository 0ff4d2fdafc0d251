import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../../kube/client.js';
import { FerryError } from '../../util/errors.js';
import { keyFromText, type JournalKey, type JournalKeyStore } from '../key.js';
import { createIfAbsent, ensureNamespace, FERRY_NAMESPACE, getOrUndefined } from '../kube.js';

export const DEFAULT_KEY_SECRET = { namespace: FERRY_NAMESPACE, name: 'ferry-journal-key' };

interface Secret {
  data?: Record<string, string>;
}

/**
 * The key in a Secret on the target cluster (`ferry-system/ferry-journal-key`, entry `key`),
 * created when missing: whoever can read that Secret can sign records, so the cluster's
 * RBAC decides who could forge a journal, and every machine driving the run finds the key.
 */
export class SecretKeyStore implements JournalKeyStore {
  readonly where: string;

  constructor(private readonly client: KubeClient, readonly ref: { namespace: string; name: string } = DEFAULT_KEY_SECRET) {
    this.where = `Secret ${ref.namespace}/${ref.name} on cluster "${client.contextName}"`;
  }

  private get path(): string {
    return `/api/v1/namespaces/${this.ref.namespace}/secrets/${this.ref.name}`;
  }

  async read(): Promise<JournalKey | undefined> {
    const secret = await getOrUndefined<Secret>(this.client, this.path);
    if (!secret) return undefined;
    const value = secret.data?.key;
    if (!value) throw new FerryError('journal.key', `${this.where} has no entry "key"`, { fix: 'delete the Secret and let Ferry create it, or add a key entry of at least 32 random bytes' });
    return keyFromText(Buffer.from(value, 'base64'), this.where);
  }

  async obtain(): Promise<JournalKey> {
    const existing = await this.read();
    if (existing) return existing;
    await ensureNamespace(this.client, this.ref.namespace);
    await createIfAbsent(this.client, `/api/v1/namespaces/${this.ref.namespace}/secrets`, {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: { name: this.ref.name, namespace: this.ref.namespace, labels: { 'app.kubernetes.io/managed-by': 'ferry' } },
      data: { key: Buffer.from(randomBytes(32).toString('base64')).toString('base64') },
    });
    // Read back: when two runs raced, the first Secret written is the key both use.
    return (await this.read())!;
  }
}
