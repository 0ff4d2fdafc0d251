import { createHash } from 'node:crypto';
import type { KubeClient } from '../../kube/client.js';
import { isFerryError } from '../../util/errors.js';
import { parseHead, type JournalAnchor, type JournalHead } from '../anchor.js';
import { createIfAbsent, ensureNamespace, FERRY_NAMESPACE, getOrUndefined } from '../kube.js';

interface ConfigMap {
  data?: Record<string, string>;
}

/** `ferry-journal-<run id>`, made a valid object name (lower case, at most 253 characters). */
export function anchorObjectName(runId: string): string {
  const name = `ferry-journal-${runId.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`.replace(/[-.]+$/, '');
  if (name.length <= 253) return name;
  return `${name.slice(0, 236)}-${createHash('sha256').update(runId).digest('hex').slice(0, 16)}`;
}

/**
 * Heads in a ConfigMap on the target cluster, `ferry-system/ferry-journal-<run id>`, one
 * entry per journal id. Each write is a JSON merge patch of that one entry, so the API
 * server applies it atomically; the ConfigMap (and its namespace) is created by the first.
 * Written through `AnchorWriter`, asynchronously and in order.
 */
export class ConfigMapAnchor implements JournalAnchor {
  constructor(private readonly client: KubeClient, readonly namespace: string = FERRY_NAMESPACE) {}

  get where(): string {
    return `ConfigMap ${this.namespace}/ferry-journal-<run> on cluster "${this.client.contextName}"`;
  }

  private path(runId?: string): string {
    return `/api/v1/namespaces/${this.namespace}/configmaps${runId === undefined ? '' : `/${anchorObjectName(runId)}`}`;
  }

  async read(runId: string, jid: string): Promise<JournalHead | undefined> {
    const text = (await getOrUndefined<ConfigMap>(this.client, this.path(runId)))?.data?.[jid];
    return text === undefined ? undefined : parseHead(text) ?? { runId, jid, count: -1, lastHash: '', kid: '', at: '', mac: '' };
  }

  async list(runId: string): Promise<JournalHead[]> {
    const data = (await getOrUndefined<ConfigMap>(this.client, this.path(runId)))?.data ?? {};
    return Object.entries(data).map(([jid, text]) => parseHead(text) ?? { runId, jid, count: -1, lastHash: '', kid: '', at: '', mac: '' });
  }

  async write(head: JournalHead): Promise<void> {
    const patch = () => this.client.request({ method: 'PATCH', path: this.path(head.runId), contentType: 'application/merge-patch+json', body: { data: { [head.jid]: JSON.stringify(head) } } });
    try {
      await patch();
    } catch (error) {
      if (!(isFerryError(error) && error.code === 'http-404')) throw error;
      await ensureNamespace(this.client, this.namespace);
      await createIfAbsent(this.client, this.path(), {
        apiVersion: 'v1', kind: 'ConfigMap',
        metadata: { name: anchorObjectName(head.runId), namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'ferry' }, annotations: { 'ferry.dev/run': head.runId } },
      });
      await patch();
    }
  }
}
