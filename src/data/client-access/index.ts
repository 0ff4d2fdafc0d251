/** Picks the module for a slice's `data.clientAccess` (one line per way). */
import { FerryError } from '../../util/errors.js';
import type { Side } from '../provider.js';
import type { DatabaseClientAccess } from './access.js';
import { EndpointClientAccess } from './endpoint.js';
import { ExternalNameClientAccess } from './external-name.js';
import { PgbouncerClientAccess } from './pgbouncer.js';
import type { ClusterClients } from './kube.js';
import { clientAccessSchema, type ClientAccessConfig, type ClientAccessInput } from './schema.js';
import { ServiceClientAccess } from './service.js';

export type { DatabaseClientAccess } from './access.js';
export { clientAccessSchema, type ClientAccessConfig, type ClientAccessInput } from './schema.js';

export interface ClientAccessDependencies {
  /** A KubeClient per cluster the `service` and `externalName` ways write to. */
  clusters?: ClusterClients;
  /** Where `tokenEnv` is read; process.env by default. */
  env?: Record<string, string | undefined>;
  /**
   * Ends the applications' sessions on a database (`PostgresDataProvider.disconnectApplications`).
   * A Service or an ExternalName only changes where *new* connections go; the ways that cannot
   * close connections themselves call this with the side the applications left.
   */
  disconnect?: (side: Side) => Promise<unknown>;
}

export function createClientAccess(input: ClientAccessConfig | ClientAccessInput, deps: ClientAccessDependencies = {}): DatabaseClientAccess {
  const parsed = clientAccessSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FerryError('config', issue.message, {
      location: { field: ['data', 'clientAccess', ...issue.path].map(String).join('.') },
      fix: 'see docs/architecture.md (Data: how applications follow) for each way\'s settings',
    });
  }
  const config = parsed.data;
  const clusters = deps.clusters ?? {};
  switch (config.type) {
    case 'service': return new ServiceClientAccess(config, clusters, deps.disconnect);
    case 'externalName': return new ExternalNameClientAccess(config, clusters, deps.disconnect);
    case 'endpoint': return new EndpointClientAccess(config, (deps.env ?? process.env)[config.tokenEnv]);
    case 'pgbouncer': return new PgbouncerClientAccess(config, (deps.env ?? process.env)[config.passwordEnv]);
  }
}
