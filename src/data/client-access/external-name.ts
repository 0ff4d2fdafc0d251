import { FerryError } from '../../util/errors.js';
import type { KubeClient } from '../../kube/client.js';
import type { Side } from '../provider.js';
import { otherSide, type DatabaseClientAccess } from './access.js';
import { applyObject, clientsFor, getObject, objectPath, type ClusterClients } from './kube.js';
import type { ExternalNameAccessConfig } from './schema.js';

/**
 * A Service of type ExternalName: cluster DNS answers its name with a CNAME to
 * `spec.externalName`, which Ferry switches between the two databases' host names. Clients
 * resolve again when they reconnect; resolvers may keep the old answer for its TTL (5 s in
 * CoreDNS by default), during which reconnects still reach the old side, whose writes are
 * closed — refused, not lost, and retried by the application.
 * https://kubernetes.io/docs/concepts/services-networking/service/#externalname
 */
export class ExternalNameClientAccess implements DatabaseClientAccess {
  readonly type = 'externalName';
  private readonly targets: Array<{ side: Side; client: KubeClient }>;
  private readonly path: string;

  constructor(
    private readonly config: ExternalNameAccessConfig,
    clusters: ClusterClients,
    private readonly disconnect?: (side: Side) => Promise<unknown>,
  ) {
    this.targets = clientsFor(clusters, config.clusters, this.type);
    this.path = objectPath('v1', 'services', config.namespace, config.name);
  }

  async current(): Promise<Side | 'unknown'> {
    const seen = await Promise.all(this.targets.map(async ({ client }) => this.sideOf(((await getObject(client, this.path))?.spec as { externalName?: string } | undefined)?.externalName)));
    return seen.every((side) => side === seen[0]) ? seen[0]! : 'unknown';
  }

  async pointTo(side: Side): Promise<void> {
    if ((await this.current()) === side) return;
    const host = side === 'source' ? this.config.sourceHost : this.config.targetHost;
    await Promise.all(
      this.targets.map(async ({ client }) => {
        const existing = await getObject(client, this.path);
        const type = (existing?.spec as { type?: string } | undefined)?.type;
        if (existing && type !== 'ExternalName') {
          throw new FerryError('config', `Service ${this.config.namespace}/${this.config.name} on cluster "${client.contextName}" is of type ${type ?? 'ClusterIP'}, not ExternalName`, {
            location: { field: 'data.clientAccess.name', object: `Service ${this.config.namespace}/${this.config.name}` },
            fix: 'name a Service of type ExternalName (Ferry creates it if missing), or use data.clientAccess.type: service',
          });
        }
        await applyObject(client, this.path, { apiVersion: 'v1', kind: 'Service', metadata: { name: this.config.name, namespace: this.config.namespace }, spec: { type: 'ExternalName', externalName: host } });
      }),
    );
    await this.disconnect?.(otherSide(side));
  }

  async close(): Promise<void> {}

  private sideOf(host: string | undefined): Side | 'unknown' {
    const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');
    if (host === undefined) return 'unknown';
    if (norm(host) === norm(this.config.sourceHost)) return 'source';
    if (norm(host) === norm(this.config.targetHost)) return 'target';
    return 'unknown';
  }
}
