/**
 * A second identity on a lab cluster: mints a token for a named user through the cluster's
 * admin endpoint (as the administrator) and adds a user and a context `<username>@<context>`
 * to the kubeconfig file, so `kubectl --context alice@target auth whoami` says `alice`, and
 * `ferry approve … --context alice@target` approves as alice. Works for in-process test labs
 * and for `ferry lab up` (its kubeconfig is in the lab dir).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { FerryError } from '../util/errors.js';
import { ADMIN_USERS_PATH } from './api/server.js';

interface KubeconfigFile {
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>;
}

export async function addLabUser(kubeconfigFile: string, options: { context: string; username: string; groups?: string[] }): Promise<{ context: string }> {
  const admin = new KubeClient(loadKubeConfig({ kubeconfig: kubeconfigFile, context: options.context }));
  let token: string;
  try {
    ({ token } = await admin.request<{ token: string }>({ method: 'POST', path: ADMIN_USERS_PATH, body: { username: options.username, groups: options.groups ?? [] } }));
  } finally {
    admin.close();
  }
  const config = parse(readFileSync(kubeconfigFile, 'utf8')) as KubeconfigFile;
  const base = config.contexts?.find((c) => c.name === options.context);
  if (!base) throw new FerryError('kubeconfig', `context "${options.context}" is not in the kubeconfig`, { location: { file: kubeconfigFile }, fix: 'name a context of the lab (source, target)' });
  const name = `${options.username}@${options.context}`;
  config.users = [...(config.users ?? []).filter((u) => u.name !== name), { name, user: { token } }];
  config.contexts = [...(config.contexts ?? []).filter((c) => c.name !== name), { name, context: { ...base.context, user: name } }];
  writeFileSync(kubeconfigFile, stringify(config), { mode: 0o600 });
  return { context: name };
}
