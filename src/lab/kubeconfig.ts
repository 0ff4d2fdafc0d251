/** The kubeconfig a lab writes: one cluster, user and context per lab cluster, CA data embedded, token auth. */
import { stringify } from 'yaml';

export interface KubeconfigEntry {
  name: string;
  url: string;
  token: string;
  caPem: string;
}

export function buildKubeconfig(entries: KubeconfigEntry[], currentContext = entries[0]?.name): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: entries.map((entry) => ({ name: entry.name, cluster: { server: entry.url, 'certificate-authority-data': Buffer.from(entry.caPem).toString('base64') } })),
    users: entries.map((entry) => ({ name: `${entry.name}-admin`, user: { token: entry.token } })),
    contexts: entries.map((entry) => ({ name: entry.name, context: { cluster: entry.name, user: `${entry.name}-admin`, namespace: 'default' } })),
    'current-context': currentContext,
  });
}
