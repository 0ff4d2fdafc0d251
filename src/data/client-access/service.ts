import { isIP } from 'node:net';
import { FerryError } from '../../util/errors.js';
import type { KubeClient } from '../../kube/client.js';
import type { KubeObject } from '../../kube/object.js';
import type { Side } from '../provider.js';
import { otherSide, type DatabaseClientAccess } from './access.js';
import { applyObject, clientsFor, getObject, objectPath, type ClusterClients } from './kube.js';
import type { ServiceAccessConfig } from './schema.js';

type Obj = Record<string, any>;

interface Address {
  host: string;
  port: number;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
}

/**
 * A selector-less Service whose EndpointSlice (and Endpoints, for IP addresses) Ferry writes:
 * the applications keep their Service name and kube-proxy sends new connections to the
 * database the slice names. Ferry owns one slice, `<service>-ferry`, labelled with the
 * Service's name and `endpointslice.kubernetes.io/managed-by: ferry.dev` so the cluster's
 * EndpointSlice controller leaves it alone. A Service with a selector is refused: its
 * controller would rewrite the endpoints under Ferry.
 * https://kubernetes.io/docs/concepts/services-networking/service/#services-without-selectors
 */
export class ServiceClientAccess implements DatabaseClientAccess {
  readonly type = 'service';
  private readonly addresses: Record<Side, Address>;
  private readonly targets: Array<{ side: Side; client: KubeClient }>;

  constructor(
    private readonly config: ServiceAccessConfig,
    clusters: ClusterClients,
    private readonly disconnect?: (side: Side) => Promise<unknown>,
  ) {
    this.addresses = { source: parseAddress(config.sourceAddress, 'sourceAddress'), target: parseAddress(config.targetAddress, 'targetAddress') };
    this.targets = clientsFor(clusters, config.clusters, this.type);
  }

  async current(): Promise<Side | 'unknown'> {
    const seen = await Promise.all(this.targets.map(({ client }) => this.sideOn(client)));
    return seen.every((side) => side === seen[0]) ? seen[0]! : 'unknown';
  }

  async pointTo(side: Side): Promise<void> {
    if ((await this.current()) === side) return;
    await Promise.all(this.targets.map(({ client }) => this.write(client, side)));
    // kube-proxy changes where new connections go; open ones stay until they are ended.
    await this.disconnect?.(otherSide(side));
  }

  async close(): Promise<void> {}

  private paths() {
    const { namespace, name } = this.config;
    return {
      service: objectPath('v1', 'services', namespace, name),
      slice: objectPath('discovery.k8s.io/v1', 'endpointslices', namespace, `${name}-ferry`),
      endpoints: objectPath('v1', 'endpoints', namespace, name),
    };
  }

  /** The side one cluster's Service reaches, when its slice and Endpoints agree on it. */
  private async sideOn(client: KubeClient): Promise<Side | 'unknown'> {
    const paths = this.paths();
    const [service, slice, endpoints] = await Promise.all([getObject(client, paths.service), getObject(client, paths.slice), getObject(client, paths.endpoints)]);
    if (!service || !slice) return 'unknown';
    const ports = ((service.spec as Obj | undefined)?.ports ?? []) as Obj[];
    if (!ports.some((port) => port.port === this.config.port)) return 'unknown';
    const addresses = ((slice.endpoints ?? []) as Obj[]).flatMap((endpoint) => (endpoint.addresses ?? []) as string[]);
    const port = ((slice.ports ?? []) as Obj[])[0]?.port as number | undefined;
    for (const side of ['source', 'target'] as const) {
      const wanted = this.addresses[side];
      if (addresses.length !== 1 || addresses[0] !== wanted.host || port !== wanted.port) continue;
      if (wanted.addressType === 'FQDN') return side;
      const subsets = ((endpoints?.subsets ?? []) as Obj[]);
      const ips = subsets.flatMap((subset) => ((subset.addresses ?? []) as Obj[]).map((address) => address.ip as string));
      const endpointPort = (subsets[0]?.ports as Obj[] | undefined)?.[0]?.port;
      if (ips.length === 1 && ips[0] === wanted.host && endpointPort === wanted.port) return side;
    }
    return 'unknown';
  }

  private async write(client: KubeClient, side: Side): Promise<void> {
    const { namespace, name, port, portName } = this.config;
    const paths = this.paths();
    const existing = await getObject(client, paths.service);
    const spec = (existing?.spec ?? {}) as Obj;
    if (existing && (spec.type === 'ExternalName' || Object.keys(spec.selector ?? {}).length > 0)) {
      throw new FerryError('config', `Service ${namespace}/${name} on cluster "${client.contextName}" ${spec.type === 'ExternalName' ? 'is of type ExternalName' : 'has a selector'}: its endpoints are not Ferry's to write`, {
        location: { field: 'data.clientAccess.name', object: `Service ${namespace}/${name}` },
        fix: spec.type === 'ExternalName' ? 'use data.clientAccess.type: externalName for this Service' : 'name a Service without a selector for the database (Ferry creates it if missing), and point the applications at it',
      });
    }
    const named = portName ? { name: portName } : {};
    const address = this.addresses[side];
    const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ ...named, port, protocol: 'TCP' }] } };
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-ferry`, namespace, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'ferry.dev' } },
      addressType: address.addressType,
      endpoints: [{ addresses: [address.host], conditions: { ready: true } }],
      ports: [{ ...named, port: address.port, protocol: 'TCP' }],
    };
    await applyObject(client, paths.service, service);
    // The slice first: kube-proxy reads slices; Endpoints are for older readers (IP addresses only).
    await applyObject(client, paths.slice, slice);
    if (address.addressType !== 'FQDN') {
      await applyObject(client, paths.endpoints, {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace },
        subsets: [{ addresses: [{ ip: address.host }], ports: [{ ...named, port: address.port, protocol: 'TCP' }] }],
      });
    }
  }
}

function parseAddress(value: string, field: string): Address {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(at + 1));
  if (!(port >= 1 && port <= 65535)) {
    throw new FerryError('config', `data.clientAccess.${field} "${value}" has no valid port`, { location: { field: `data.clientAccess.${field}` }, fix: 'write host:port, e.g. 10.0.0.5:5432' });
  }
  const family = isIP(host);
  return { host, port, addressType: family === 4 ? 'IPv4' : family === 6 ? 'IPv6' : 'FQDN' };
}
