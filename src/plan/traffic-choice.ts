import { trafficProviderSchema, type TrafficProviderConfig } from '../traffic/provider-config.js';
import type { TrafficProviderType } from '../traffic/provider.js';
import { FerryError } from '../util/errors.js';
import type { SliceEdge } from './edge.js';

/**
 * The traffic choice of `ferry plan` (`--traffic` and each provider's flags), and how it
 * becomes one edge slice's full `traffic.provider` block. Names that differ per slice are
 * derived from the slice (see `ferry plan --help` and docs/architecture.md, "Plans that run"):
 * only what cannot be read from the slice's objects is asked for.
 */
export type TrafficKind = 'none' | TrafficProviderType;

export const TRAFFIC_KINDS: readonly TrafficKind[] = ['none', 'router', 'haproxy', 'istio', 'gateway-api', 'ingress-nginx', 'powerdns', 'route53'];

export interface TrafficChoice {
  kind: TrafficKind;
  router?: { adminUrl?: string; tokenEnv?: string };
  haproxy?: { socket?: string; sourceServer?: string; targetServer?: string; serverStateFile?: string };
  /** Istio `gateways` for slices without their own VirtualService, e.g. istio-system/ingress. */
  istio?: { gateways?: string[] };
  /** Gateway for slices without their own HTTPRoute, `name` or `namespace/name`. */
  gatewayApi?: { gateway?: string };
  ingressNginx?: { ingressClassName?: string };
  powerdns?: { apiUrl?: string; zone?: string; apiKeyEnv?: string; serverId?: string };
  route53?: { hostedZoneId?: string; outDir?: string };
  /** DNS providers: the address(es) users reach each cluster's ingress by. */
  sourceAddresses?: string[];
  targetAddresses?: string[];
  /** A slice with no host of its own is reached as `<slice>.<domain>`. */
  domain?: string;
  /** Kubernetes-object providers: the Service on the target cluster that reaches the source is `<service><suffix>`. */
  sourceServiceSuffix?: string;
}

/** The flag `ferry plan` takes for each setting a provider cannot derive, for messages. */
const FLAGS = {
  routerAdminUrl: '--router-admin-url',
  haproxySocket: '--haproxy-socket',
  gateway: '--gateway',
  pdnsApiUrl: '--pdns-api-url',
  pdnsZone: '--pdns-zone',
  route53ZoneId: '--route53-zone-id',
  sourceAddress: '--source-address',
  targetAddress: '--target-address',
  domain: '--domain',
} as const;

export const DEFAULT_SOURCE_SERVICE_SUFFIX = '-ferry-source';

/** Refuses a choice that lacks a setting no slice can supply; per-slice gaps are refused in `providerForSlice`. */
export function checkTrafficChoice(choice: TrafficChoice): void {
  const need = (value: unknown, flag: string, what: string) => {
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
      throw new FerryError('usage', `needs ${flag} (${what})`, { location: { field: `--traffic ${choice.kind}` }, fix: `e.g. ferry plan ... --traffic ${choice.kind} ${flag} ${example(flag)}; \`ferry plan --help\` lists each provider's flags` });
    }
  };
  switch (choice.kind) {
    case 'none': return;
    case 'router': return need(choice.router?.adminUrl, FLAGS.routerAdminUrl, "the embedded router's admin API");
    case 'haproxy': return need(choice.haproxy?.socket, FLAGS.haproxySocket, 'the HAProxy runtime API socket, a path or host:port');
    case 'istio': return;
    case 'gateway-api': return;
    case 'ingress-nginx': return;
    case 'powerdns':
      need(choice.powerdns?.apiUrl, FLAGS.pdnsApiUrl, "the PowerDNS server's HTTP API");
      need(choice.powerdns?.zone, FLAGS.pdnsZone, 'the zone that holds the records');
      need(choice.sourceAddresses, FLAGS.sourceAddress, "the source cluster's ingress address");
      return need(choice.targetAddresses, FLAGS.targetAddress, "the target cluster's ingress address");
    case 'route53':
      need(choice.route53?.hostedZoneId, FLAGS.route53ZoneId, 'the hosted zone id');
      need(choice.sourceAddresses, FLAGS.sourceAddress, "the source cluster's ingress address");
      return need(choice.targetAddresses, FLAGS.targetAddress, "the target cluster's ingress address");
  }
}

function example(flag: string): string {
  switch (flag) {
    case FLAGS.routerAdminUrl: return 'http://127.0.0.1:9901';
    case FLAGS.haproxySocket: return '/run/haproxy/admin.sock';
    case FLAGS.pdnsApiUrl: return 'http://127.0.0.1:8081';
    case FLAGS.pdnsZone: return 'example.com.';
    case FLAGS.route53ZoneId: return 'Z0123456789ABC';
    case FLAGS.gateway: return 'istio-system/public';
    case FLAGS.domain: return 'example.com';
    default: return '10.0.0.1';
  }
}

export interface SliceFacts {
  name: string;
  namespace: string;
  edge: SliceEdge;
}

/** The full settings block of an edge slice for the chosen provider (`none` → undefined), checked against the provider's schema. */
export function providerForSlice(choice: TrafficChoice, slice: SliceFacts): TrafficProviderConfig | undefined {
  const block = deriveProvider(choice, slice);
  if (!block) return undefined;
  const parsed = trafficProviderSchema.safeParse(block);
  if (parsed.success) return block;
  const issue = parsed.error.issues[0]!;
  throw new FerryError('usage', `slice ${slice.name}: traffic.provider.${issue.path.map(String).join('.')}: ${issue.message}`, { location: { field: `--traffic ${choice.kind}` }, fix: `check the --traffic ${choice.kind} flags (\`ferry plan --help\`)` });
}

function deriveProvider(choice: TrafficChoice, slice: SliceFacts): TrafficProviderConfig | undefined {
  const { name, namespace, edge } = slice;
  const host = edge.host ?? (choice.domain ? `${name}.${choice.domain.replace(/\.$/, '')}` : undefined);
  const suffix = choice.sourceServiceSuffix ?? DEFAULT_SOURCE_SERVICE_SUFFIX;
  const service = () => {
    if (!edge.service) throw sliceGap(choice, name, 'has no Service to send traffic to', 'add the Service to the slice, or give this slice traffic.provider: none');
    if (edge.service.port === undefined) throw sliceGap(choice, name, `Service ${namespace}/${edge.service.name} declares no port`, 'give the Service a port');
    return { name: edge.service.name, port: edge.service.port };
  };
  const needHost = (): string => host ?? throwGap(sliceGap(choice, name, 'has no host name (no Ingress, HTTPRoute or VirtualService host)', `pass ${FLAGS.domain} DOMAIN so the slice is reached as ${name}.DOMAIN, or set traffic.provider.${choice.kind === 'ingress-nginx' ? 'host' : 'record'} in the plan`));
  switch (choice.kind) {
    case 'none': return undefined;
    case 'router':
      return { type: 'router', adminUrl: choice.router!.adminUrl!, route: name, tokenEnv: choice.router?.tokenEnv ?? 'FERRY_ROUTER_TOKEN' };
    case 'haproxy':
      return {
        type: 'haproxy',
        socket: choice.haproxy!.socket!,
        backend: name,
        sourceServer: choice.haproxy?.sourceServer ?? 'source',
        targetServer: choice.haproxy?.targetServer ?? 'target',
        ...(choice.haproxy?.serverStateFile ? { serverStateFile: choice.haproxy.serverStateFile } : {}),
      };
    case 'istio': {
      const svc = service();
      const fqdn = (serviceName: string) => `${serviceName}.${namespace}.svc.cluster.local`;
      const vs = edge.virtualService;
      const gateways = vs?.gateways ?? choice.istio?.gateways;
      return {
        type: 'istio',
        namespace,
        name: vs?.name ?? name,
        hosts: vs && vs.hosts.length > 0 ? vs.hosts : gateways && host ? [host] : [fqdn(svc.name)],
        ...(gateways && gateways.length > 0 ? { gateways } : {}),
        source: { host: fqdn(`${svc.name}${suffix}`), port: svc.port },
        target: { host: fqdn(svc.name), port: svc.port },
      };
    }
    case 'gateway-api': {
      const svc = service();
      const route = edge.httpRoute;
      const parentRefs = route && route.parentRefs.length > 0 ? route.parentRefs : choice.gatewayApi?.gateway ? [gatewayRef(choice.gatewayApi.gateway)] : undefined;
      if (!parentRefs) throw sliceGap(choice, name, 'has no HTTPRoute to take the Gateway from', `pass ${FLAGS.gateway} NAMESPACE/NAME (the Gateway users arrive through)`);
      return {
        type: 'gateway-api',
        namespace,
        name: route?.name ?? name,
        parentRefs,
        hostnames: route && route.hostnames.length > 0 ? route.hostnames : host ? [host] : [],
        pathPrefix: '/',
        source: { name: `${svc.name}${suffix}`, port: svc.port },
        target: { name: svc.name, port: svc.port },
      };
    }
    case 'ingress-nginx': {
      const svc = service();
      return {
        type: 'ingress-nginx',
        namespace,
        name: edge.ingress?.name ?? name,
        ingressClassName: choice.ingressNginx?.ingressClassName ?? edge.ingress?.ingressClassName ?? 'nginx',
        host: needHost(),
        pathPrefix: '/',
        source: { service: `${svc.name}${suffix}`, port: svc.port },
        target: { service: svc.name, port: svc.port },
        canaryCookie: 'ferry_canary',
      };
    }
    case 'powerdns': {
      const zone = choice.powerdns!.zone!;
      const bare = zone.replace(/\.$/, '');
      const record = edge.host && (edge.host === bare || edge.host.endsWith(`.${bare}`)) ? edge.host : `${name}.${bare}`;
      return {
        type: 'powerdns',
        apiUrl: choice.powerdns!.apiUrl!,
        serverId: choice.powerdns?.serverId ?? 'localhost',
        apiKeyEnv: choice.powerdns?.apiKeyEnv ?? 'PDNS_API_KEY',
        zone,
        record,
        recordType: 'A',
        source: choice.sourceAddresses!,
        target: choice.targetAddresses!,
        rampTtl: 30,
      };
    }
    case 'route53':
      return {
        type: 'route53',
        hostedZoneId: choice.route53!.hostedZoneId!,
        record: needHost(),
        recordType: 'A',
        originalTtl: 300,
        rampTtl: 30,
        source: { setIdentifier: 'ferry-source', values: choice.sourceAddresses! },
        target: { setIdentifier: 'ferry-target', values: choice.targetAddresses! },
        outDir: `${choice.route53?.outDir ?? 'route53'}/${name}`,
      };
  }
}

function gatewayRef(text: string): { name: string; namespace?: string } {
  const [first, second] = text.split('/');
  return second === undefined ? { name: first! } : { namespace: first!, name: second };
}

function sliceGap(choice: TrafficChoice, slice: string, what: string, fix: string): FerryError {
  return new FerryError('usage', `slice ${slice} ${what}`, { location: { field: `--traffic ${choice.kind}` }, fix });
}

function throwGap(error: FerryError): never {
  throw error;
}
