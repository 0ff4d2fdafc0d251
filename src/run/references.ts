import type { KubeClient } from '../kube/client.js';
import { FerryError } from '../util/errors.js';

/**
 * Plans keep no secrets: a connection string is given as `env:NAME` (read from Ferry's
 * environment) or `secret:namespace/name/key` (read from the source cluster, as the
 * applications read it). The value is used, never journaled or printed.
 */
export async function resolveReference(reference: string, field: string, sourceCluster: () => KubeClient | undefined, env: Record<string, string | undefined> = process.env): Promise<string> {
  if (reference.startsWith('env:')) {
    const name = reference.slice(4);
    const value = env[name];
    if (!value) throw new FerryError('plan.reference', `environment variable ${name} is not set`, { location: { field }, fix: `export ${name}=postgresql://… before running` });
    return value;
  }
  if (reference.startsWith('secret:')) {
    const parts = reference.slice(7).split('/');
    if (parts.length !== 3 || parts.some((part) => part.length === 0)) {
      // The text is not echoed: a mistyped reference may be the secret itself.
      throw new FerryError('plan.reference', `${field} is not a Secret reference of the form secret:NAMESPACE/NAME/KEY`, { location: { field }, fix: 'write secret:NAMESPACE/NAME/KEY' });
    }
    const [namespace, name, key] = parts as [string, string, string];
    const client = sourceCluster();
    if (!client) throw new FerryError('plan.reference', `${field} reads Secret ${namespace}/${name}, but the plan's source is exported YAML, not a cluster`, { location: { field }, fix: 'use env:NAME, or set spec.source.context' });
    const secret = await client.request<{ data?: Record<string, string>; stringData?: Record<string, string> }>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}` }).catch((error: FerryError) => {
      if (error.code === 'http-404') throw new FerryError('plan.reference', `Secret ${namespace}/${name} does not exist on the source cluster`, { location: { field }, fix: `create it, or correct ${field}` });
      throw error;
    });
    const encoded = secret.data?.[key];
    if (encoded === undefined) throw new FerryError('plan.reference', `Secret ${namespace}/${name} has no key "${key}"`, { location: { field }, fix: `use one of its keys: ${Object.keys(secret.data ?? {}).join(', ') || 'none'}` });
    return Buffer.from(encoded, 'base64').toString('utf8');
  }
  return reference;
}
