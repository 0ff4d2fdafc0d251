import type { Command } from 'commander';
import { generatePlan } from '../../plan/generate.js';
import { runnableProblems } from '../../plan/runnable.js';
import { TRAFFIC_KINDS, type TrafficChoice, type TrafficKind } from '../../plan/traffic-choice.js';
import { color } from '../../util/color.js';
import { FerryError } from '../../util/errors.js';
import { toJson, toYamlText } from '../../util/output.js';
import { globalOptions, parseOutputFormat } from '../context.js';
import { chooseBridges, type BridgesChoice } from '../../bridge/choose.js';
import { sourceClient, targetClient } from '../../apply/slice.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { inventoryFromFlags } from '../sources.js';
import { addObservedOptions, observedEdgesFromFlags } from '../observed.js';

const TRAFFIC_HELP = `
Traffic (--traffic): only edge slices ramp traffic — those with an Ingress, HTTPRoute or
VirtualService, or a LoadBalancer or NodePort Service. Slices only other services call get
provider none (internal ramps come with bridges). Without --traffic, edge slices name the
bare kind "router", which \`ferry validate\` and \`ferry run\` refuse until its settings are
filled in. Per edge slice, settings are derived from the slice:
  router         route = slice name; adminUrl = --router-admin-url; tokenEnv = --router-token-env
  haproxy        backend = slice name; servers --haproxy-source-server / --haproxy-target-server
                 (default source, target); runtime API --haproxy-socket
  istio          VirtualService = the slice's own (name, hosts, gateways), else named after the
                 slice for host SERVICE.NS.svc.cluster.local (gateways: --istio-gateway);
                 target = SERVICE.NS.svc.cluster.local, source = SERVICE-ferry-source.NS.svc.cluster.local
  gateway-api    HTTPRoute = the slice's own (name, parentRefs, hostnames), else named after the
                 slice, parent --gateway; target = SERVICE, source = SERVICE-ferry-source
  ingress-nginx  primary Ingress = the slice's own (name, class, host), else named after the
                 slice, host SLICE.--domain; target = SERVICE, source = SERVICE-ferry-source
  powerdns       record = the slice's host if inside --pdns-zone, else SLICE.ZONE;
                 addresses --source-address / --target-address; judged from each
                 cluster's ingress metrics by a cluster label = the context name (--from, --to)
  route53        record = the slice's host, else SLICE.--domain; batches in OUT-DIR/SLICE
                 (generate-only: \`ferry validate\` says the ramp cannot be judged or sent)
SERVICE is the Service a route names, else the LoadBalancer/NodePort Service, else the
slice's first; its port likewise. SERVICE-ferry-source is the Service on the target cluster
that reaches the source (suffix: --source-service-suffix). Mirroring and stickiness are
kept only over the router (the one provider that compares mirrored responses and that Ferry
can tell how to keep users on one side), and the latency gate is left out over HAProxy (its
exporter has no per-server histogram). Anything the plan still lacks to run is printed as a
note on stderr; \`ferry validate\` reports the same.

Examples:
  ferry plan --from old --to new --traffic router --router-admin-url http://10.0.0.5:9901 \\
      --prometheus http://prometheus.monitoring:9090 > plan.yaml
  ferry plan --from old --to new --traffic powerdns --pdns-api-url http://ns1:8081 \\
      --pdns-zone example.com. --source-address 203.0.113.10 --target-address 203.0.113.20 \\
      --prometheus http://prometheus:9090 > plan.yaml
`;

export function register(program: Command): void {
  addObservedOptions(program.command('plan'))
    .description('write a MigrationPlan: slices in dependency order, wave by wave, with the traffic and metrics settings to run it')
    .option('--from <context>', 'source cluster (kubeconfig context)')
    .option('--manifests <path>', 'exported YAML of the source instead of a live cluster')
    .option('--to <context>', 'target cluster (kubeconfig context)', 'target')
    .option('--internal-ramps <kind>', 'ramp slices that only other services call, on the callers\' cluster: istio (a mesh VirtualService split by cluster)')
    .option('--mesh-cluster-ids <source,target>', 'the clusters\' mesh IDs (topology.istio.io/cluster) for --internal-ramps (default: the context names)')
    .option('--bridges <provider>', 'how calls crossing clusters are carried: endpoints, mcs, istio or none (default: endpoints when both clusters publish an east-west gateway, else none with a warning)')
    .option('-n, --namespace <name>', 'namespace for objects in the manifests that name none', 'default')
    .option('--name <name>', 'plan name', 'migration')
    .option('--order <order>', 'consumers-first (default) or providers-first', 'consumers-first')
    .option('--steps <weights>', 'traffic steps in percent, comma-separated', '1,10,50,100')
    .option('--step-window <duration>', 'how long each traffic step is held and judged', '5m')
    .option('--traffic <kind>', `what moves edge slices' traffic: ${TRAFFIC_KINDS.join(', ')}`)
    .option('--router-admin-url <url>', "router: the embedded router's admin API")
    .option('--router-token-env <name>', 'router: variable holding the admin token', 'FERRY_ROUTER_TOKEN')
    .option('--haproxy-socket <path|host:port>', 'haproxy: runtime API socket (level admin)')
    .option('--haproxy-source-server <name>', 'haproxy: server name of the source in each backend', 'source')
    .option('--haproxy-target-server <name>', 'haproxy: server name of the target in each backend', 'target')
    .option('--haproxy-state-file <path>', "haproxy: the server-state-file haproxy.cfg loads")
    .option('--istio-gateway <namespace/name...>', 'istio: gateways for slices without their own VirtualService')
    .option('--gateway <namespace/name>', 'gateway-api: the Gateway for slices without their own HTTPRoute')
    .option('--ingress-class <name>', 'ingress-nginx: ingressClassName (default: the Ingress\'s own, else nginx)')
    .option('--pdns-api-url <url>', "powerdns: the server's HTTP API")
    .option('--pdns-zone <zone>', 'powerdns: zone holding the records, e.g. example.com.')
    .option('--pdns-api-key-env <name>', 'powerdns: variable holding the API key', 'PDNS_API_KEY')
    .option('--pdns-server-id <id>', 'powerdns: server id', 'localhost')
    .option('--route53-zone-id <id>', 'route53: hosted zone id')
    .option('--route53-out-dir <dir>', 'route53: where change batches are written, one folder per slice', 'route53')
    .option('--source-address <ip,...>', "powerdns, route53: the source cluster's ingress address(es)")
    .option('--target-address <ip,...>', "powerdns, route53: the target cluster's ingress address(es)")
    .option('--domain <domain>', 'slices without a host of their own are reached as SLICE.DOMAIN')
    .option('--source-service-suffix <suffix>', 'istio, gateway-api, ingress-nginx: the source side is SERVICE+SUFFIX', '-ferry-source')
    .option('--prometheus <url>', 'Prometheus the judge reads (spec.metrics)')
    .option('--scrape-interval <duration>', 'the scrape interval of the provider\'s metrics in that Prometheus', '5s')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .addHelpText('after', TRAFFIC_HELP)
    .action(async (options, command: Command) => {
      const format = parseOutputFormat(options.output, ['yaml', 'json'] as const);
      const order = parseOutputFormat(options.order, ['consumers-first', 'providers-first'] as const, '--order');
      const steps = String(options.steps).split(',').map((step) => Number(step.trim()));
      if (steps.some((step) => !Number.isFinite(step) || step < 0 || step > 100)) {
        throw new FerryError('usage', `--steps "${options.steps}" must be numbers from 0 to 100`, { location: { field: '--steps' }, fix: 'e.g. --steps 1,10,50,100' });
      }
      if (!options.from && !options.manifests) {
        throw new FerryError('usage', 'no source: pass --from CONTEXT (a live cluster) or --manifests PATH', { location: { field: '--from' }, fix: 'e.g. ferry plan --from old --to new' });
      }
      const traffic = options.traffic === undefined ? undefined : trafficChoice(options);
      const inventory = await inventoryFromFlags(command, options);
      const observed = await observedEdgesFromFlags(command, options);
      const plan = generatePlan(inventory.objects, {
        name: options.name,
        // Exported YAML and the live cluster it came from: objects read from the files, the cluster
        // still decommissioned, judged and read for secret: references by its context.
        source: options.manifests ? { manifests: options.manifests, ...(options.from ? { context: options.from } : {}) } : { context: options.from },
        target: { context: options.to },
        order,
        steps,
        stepWindow: options.stepWindow,
        ...(traffic ? { traffic } : {}),
        ...(options.internalRamps !== undefined ? { internalRamps: internalRampsChoice(options.internalRamps, options.meshClusterIds) } : {}),
        ...(options.prometheus ? { metrics: { url: options.prometheus, scrapeInterval: options.scrapeInterval } } : {}),
        ...(observed ? { observed: observed.edges } : {}),
      });
      const bridges = await bridgesFor(plan, options.bridges, globalOptions(command).kubeconfig);
      plan.spec.bridges = bridges.settings;
      process.stdout.write(format === 'json' ? toJson(plan) : toYamlText(plan));
      if (bridges.warning) process.stderr.write(`${color().yellow('warning:')} ${bridges.warning}\n`);
      // Said now rather than at `ferry validate`: what this plan still needs before it can run.
      for (const problem of runnableProblems(plan).filter((p) => p.severity === 'error')) {
        process.stderr.write(`${color().yellow('note:')} the plan cannot run yet: ${problem.field}: ${problem.message} (fix: ${problem.fix})\n`);
      }
    });
}

const BRIDGE_PROVIDERS = ['endpoints', 'mcs', 'istio', 'none'] as const;

function internalRampsChoice(kind: string, ids: string | undefined): { kind: 'istio'; clusterIds?: { source: string; target: string } } {
  if (kind !== 'istio') throw new FerryError('usage', `unknown internal ramp kind "${kind}"`, { location: { field: '--internal-ramps' }, fix: 'use --internal-ramps istio' });
  if (ids === undefined) return { kind };
  const [source, target, ...rest] = ids.split(',').map((id) => id.trim());
  if (!source || !target || rest.length > 0) throw new FerryError('usage', `--mesh-cluster-ids "${ids}" must be two IDs, source then target`, { location: { field: '--mesh-cluster-ids' }, fix: 'e.g. --mesh-cluster-ids cluster-old,cluster-new' });
  return { kind, clusterIds: { source, target } };
}

async function bridgesFor(plan: MigrationPlan, asked: string | undefined, kubeconfig: string | undefined): Promise<BridgesChoice> {
  if (asked !== undefined && !(BRIDGE_PROVIDERS as readonly string[]).includes(asked)) {
    throw new FerryError('usage', `unknown bridge provider "${asked}"`, { location: { field: '--bridges' }, fix: `use one of: ${BRIDGE_PROVIDERS.join(', ')}` });
  }
  const options = kubeconfig ? { kubeconfig } : {};
  // A cluster Ferry cannot reach yet (a target context not in the kubeconfig) has no gateway to find.
  const reachable = <T>(make: () => T): T | undefined => {
    try {
      return make();
    } catch {
      return undefined;
    }
  };
  const source = reachable(() => sourceClient(plan, options));
  const target = plan.spec.target.context ? reachable(() => targetClient(plan, options)) : undefined;
  try {
    return await chooseBridges(plan, { ...(source ? { source } : {}), ...(target ? { target } : {}) }, asked as (typeof BRIDGE_PROVIDERS)[number] | undefined);
  } finally {
    source?.close();
    target?.close();
  }
}

/** The flags as the library's TrafficChoice; which are required is decided there. */
function trafficChoice(options: Record<string, string | string[] | undefined>): TrafficChoice {
  const kind = options.traffic as string;
  if (!(TRAFFIC_KINDS as readonly string[]).includes(kind)) {
    throw new FerryError('usage', `unknown traffic provider "${kind}"`, { location: { field: '--traffic' }, fix: `use one of: ${TRAFFIC_KINDS.join(', ')}` });
  }
  const text = (name: string) => options[name] as string | undefined;
  const list = (name: string) => text(name)?.split(',').map((item) => item.trim()).filter(Boolean);
  return {
    kind: kind as TrafficKind,
    router: { adminUrl: text('routerAdminUrl'), tokenEnv: text('routerTokenEnv') },
    haproxy: { socket: text('haproxySocket'), sourceServer: text('haproxySourceServer'), targetServer: text('haproxyTargetServer'), serverStateFile: text('haproxyStateFile') },
    istio: { gateways: options.istioGateway as string[] | undefined },
    gatewayApi: { gateway: text('gateway') },
    ingressNginx: { ingressClassName: text('ingressClass') },
    powerdns: { apiUrl: text('pdnsApiUrl'), zone: text('pdnsZone'), apiKeyEnv: text('pdnsApiKeyEnv'), serverId: text('pdnsServerId') },
    route53: { hostedZoneId: text('route53ZoneId'), outDir: text('route53OutDir') },
    sourceAddresses: list('sourceAddress'),
    targetAddresses: list('targetAddress'),
    domain: text('domain'),
    sourceServiceSuffix: text('sourceServiceSuffix'),
  };
}
