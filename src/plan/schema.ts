import { z } from 'zod';
import { analysisSchema, durationSchema, gatesSchema } from '../analysis/gates-schema.js';
import { sideQueriesSchema } from '../analysis/queries-schema.js';
import { trafficProviderSchema as trafficProviderSettingsSchema } from '../traffic/provider-config.js';
import { clientAccessSchema } from '../data/client-access/schema.js';
import { boundedJsonSize } from '../util/value-size.js';
import { bridgesSchema } from '../bridge/schema.js';
import { trustSchema } from '../trust/schema.js';
import { externalDnsSchema, keepAddressesSchema } from '../handover/schema.js';
import { notificationsSchema } from '../notify/schema.js';

/**
 * The MigrationPlan, written once: TypeScript types, validation messages and the JSON Schema
 * (`ferry schema`) all come from here.
 */
export const PLAN_API_VERSION = 'ferry.dev/v1alpha1';
export const PLAN_KIND = 'MigrationPlan';

/** Free-form fields are bounded: a plan is reviewed by people, and a huge value only costs time and memory on every read. */
export const MAX_TRANSFORM_SETTINGS_BYTES = 64 * 1024;
/** The API server's own limit on an object's annotations (256 KiB in total). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
const withinBytes = (limit: number, what: string) =>
  [
    (value: unknown) => boundedJsonSize(value, limit) <= limit,
    `${what} are larger than ${limit / 1024} KiB (as JSON); keep them small and put large content in the objects themselves`,
  ] as const;

const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9.+]*[a-z0-9])?$/, 'lowercase letters, digits, "-", "." and "+"');

export const clusterRefSchema = z
  .object({
    context: z.string().min(1).optional().describe('kubeconfig context of the cluster.'),
    kubeconfig: z.string().optional().describe('kubeconfig file; default as kubectl ($KUBECONFIG, ~/.kube/config).'),
    manifests: z.string().optional().describe('Exported YAML used instead of a live source cluster.'),
  })
  .strict()
  .refine((ref) => ref.context !== undefined || ref.manifests !== undefined, { message: 'set context (a live cluster) or manifests (exported YAML)' });

export const resourceRefSchema = z
  .object({
    apiVersion: z.string().min(1),
    kind: z.string().min(1),
    namespace: z.string().optional(),
    name: z.string().min(1),
  })
  .strict();

export const trafficProviderKindSchema = z.enum(['router', 'haproxy', 'istio', 'gateway-api', 'ingress-nginx', 'powerdns', 'route53', 'none']);

/**
 * Either the kind alone (what `ferry plan` writes: settings still to be filled in, and
 * `ferry validate` says so) or the provider's full settings, joined on `type`.
 */
export const trafficProviderSchema = z.union([trafficProviderKindSchema, trafficProviderSettingsSchema]);

export const trafficSchema = z
  .object({
    provider: trafficProviderSchema.default('router').describe('What moves the traffic: the embedded router or a mesh, ingress or DNS.'),
    steps: z.array(z.number().min(0).max(100)).min(1).describe('Target weights in percent, in order, ending at 100.'),
    stepWindow: durationSchema.describe('How long each step is held and judged.'),
    mirror: z
      .object({
        percent: z.number().min(0).max(100).default(0),
        duration: durationSchema.optional().describe('How long to shadow before the ramp.'),
        allowNonIdempotent: z.boolean().default(false).describe('Also mirror POST/PUT/PATCH/DELETE (the target must not write for real).'),
        ignoreJsonPaths: z.array(z.string()).default([]).describe('JSON paths left out of the response comparison, e.g. $.timestamp.'),
      })
      .strict()
      .optional(),
    stickiness: z
      .object({ cookie: z.string().optional(), header: z.string().optional() })
      .strict()
      .optional()
      .describe('Keep each user on one side: hash a cookie or header to a bucket.'),
    queries: sideQueriesSchema.optional().describe("Prometheus series the judge reads for the source and the target, replacing the traffic provider's defaults (docs/architecture.md, \"Default queries per provider\")."),
  })
  .strict();

export const dataSyncSchema = z
  .object({
    provider: z.enum(['postgres']).default('postgres'),
    source: z.string().min(1).describe('Connection string, or env:NAME / secret:namespace/name/key to read it without writing it in the plan.'),
    target: z.string().min(1),
    schemas: z.array(z.string().min(1)).optional().describe('Database schemas whose tables move (replicated, compared, cut over); default every user schema.'),
    copySchema: z.boolean().default(true),
    maxWritePause: durationSchema.default('1s').describe('Longest acceptable write freeze at cutover.'),
    maxLag: durationSchema.default('1s').describe('Replication lag below which cutover may start.'),
    clientAccess: clientAccessSchema.optional().describe('How the applications reach the database (service, externalName, endpoint or pgbouncer); Ferry points it at the new primary inside the cutover\'s write pause and back at failback.'),
  })
  .strict();

export const smokeCheckSchema = z
  .object({
    name: z.string().min(1),
    service: z.string().optional().describe('Service (namespace/name:port) on the target to send the request to.'),
    url: z.string().optional(),
    method: z.string().default('GET'),
    path: z.string().default('/'),
    expectStatus: z.number().int().default(200),
    expectBody: z.string().optional().describe('Substring the response body must contain.'),
  })
  .strict();

export const rollbackSchema = z
  .object({
    onFailure: z.enum(['automatic', 'manual']).default('automatic'),
    keepSourceFor: durationSchema.default('24h').describe('How long the source stays ready to take traffic back after 100 %.'),
  })
  .strict();

export const decommissionSchema = z
  .object({
    after: durationSchema.default('1h').describe('Soak time at 100 % before the old side is retired.'),
    scaleSourceToZero: z.boolean().default(true),
    deleteSource: z.boolean().default(false),
    requireIdle: z.boolean().default(true).describe('Hold the decommission while telemetry (the plan\'s Prometheus) shows the source workloads still receiving calls during the soak, naming the callers.'),
    idleQuery: z.string().min(1).optional().describe('PromQL for the calls the source workloads received, by caller; $workloads (regex), $namespace, $cluster (the source context) and $window (a PromQL duration) are filled in. Default: Istio\'s istio_requests_total and istio_tcp_connections_opened_total.'),
  })
  .strict();

export const sliceDefaultsSchema = z
  .object({
    traffic: trafficSchema,
    gates: gatesSchema,
    analysis: analysisSchema,
    rollback: rollbackSchema,
    decommission: decommissionSchema,
    readyTimeout: durationSchema.default('5m'),
  })
  .strict();

export const transformSchema = z
  .object({
    name: z.string().min(1).describe('A named transform, e.g. strip-server-fields, map-storage-class, set-replicas, json-patch.'),
    with: z.record(z.string(), z.unknown()).refine(...withinBytes(MAX_TRANSFORM_SETTINGS_BYTES, "the transform's settings")).optional().describe("The transform's settings."),
  })
  .strict();

/**
 * A slice's overrides of a defaults block: every field optional and WITHOUT its default, so
 * a slice that overrides one field keeps the plan's value of the others (zod's `partial()`
 * keeps defaults: `decommission: { deleteSource: true }` would reset `after` to 1h).
 */
function overridesOf<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>) {
  const shape = Object.fromEntries(Object.entries(schema.shape).map(([key, field]) => {
    const inner = field instanceof z.ZodDefault ? (field.removeDefault() as z.ZodType) : (field as z.ZodType);
    return [key, inner.optional()];
  }));
  return z.object(shape).strict() as unknown as z.ZodObject<{ [K in keyof Shape]: z.ZodOptional<Shape[K] extends z.ZodDefault<infer T> ? T : Shape[K]> }>;
}

/**
 * Workloads that must run on one cluster at a time (queue consumers, schedulers, leader
 * electors): they start on the target at 0 replicas and are switched at the slice's cutover
 * (src/run/singletons.ts). The annotation `ferry.dev/singleton: "true"` on the workload does the same.
 */
export const singletonRefSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]*\/(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'Kind/name (in the slice\'s namespace) or Kind/namespace/name, e.g. Deployment/scheduler');

export const sliceSchema = z
  .object({
    name: dnsName.describe('Unique slice name.'),
    namespace: z.string().min(1),
    workloads: z.array(resourceRefSchema).describe('The workloads that move together in this slice.'),
    resources: z.array(resourceRefSchema).describe('Every object the slice applies to the target.'),
    dependsOn: z.array(z.string()).default([]).describe('Slices this one calls at run time.'),
    owner: z.string().optional(),
    approvers: z.array(z.string()).optional().describe('People who must run `ferry approve` before the slice ramps traffic (or, without traffic, before its data cutover, else its decommission).'),
    transforms: z.array(transformSchema).optional(),
    smoke: z.array(smokeCheckSchema).optional(),
    traffic: overridesOf(trafficSchema).optional().describe('Overrides of spec.defaults.traffic.'),
    gates: overridesOf(gatesSchema).optional(),
    data: dataSyncSchema.optional(),
    rollback: overridesOf(rollbackSchema).optional(),
    decommission: overridesOf(decommissionSchema).optional(),
    singletons: z.array(singletonRefSchema).optional().describe('Workloads of the slice that must run on one cluster at a time: started on the target at 0 replicas, switched (target up, source to 0) at cutover and back on rollback. CronJobs are always switched.'),
    keepAddresses: keepAddressesSchema,
  })
  .strict();

export const crossClusterCallSchema = z
  .object({
    from: z.string().describe('Calling slice.'),
    to: z.string().describe('Called slice.'),
    direction: z.enum(['target→source', 'source→target']),
    via: z.array(z.string()).describe('Object-level references behind the call.'),
  })
  .strict();

export const metricsSchema = z
  .object({
    provider: z.literal('prometheus'),
    url: z.url({ protocol: /^https?$/ }).describe('Prometheus HTTP API, e.g. http://prometheus.monitoring:9090'),
    scrapeInterval: durationSchema.default('5s').describe('The scrape interval of the traffic product\'s job: the finest window the judge can use.'),
  })
  .strict()
  .describe('The Prometheus the judge reads every ramping slice\'s metrics from: the traffic product\'s own series (see traffic.queries to override).');

export const waveSchema = z
  .object({
    name: z.string().min(1),
    slices: z.array(sliceSchema).min(1),
    crossClusterCalls: z.array(crossClusterCallSchema).default([]).describe('Calls that cross clusters once this wave has moved.'),
  })
  .strict();

export const migrationPlanSchema = z
  .object({
    apiVersion: z.literal(PLAN_API_VERSION),
    kind: z.literal(PLAN_KIND),
    metadata: z.object({ name: dnsName, annotations: z.record(z.string(), z.string()).refine(...withinBytes(MAX_ANNOTATIONS_BYTES, 'the annotations')).optional() }).strict(),
    spec: z
      .object({
        source: clusterRefSchema,
        target: clusterRefSchema,
        order: z.enum(['consumers-first', 'providers-first']).default('consumers-first'),
        transforms: z.array(transformSchema).default([]).describe('Transforms applied to every slice, before slice transforms.'),
        defaults: sliceDefaultsSchema,
        metrics: metricsSchema.optional(),
        prerequisites: z.array(resourceRefSchema).default([]).describe('Namespaces and cluster-scoped objects applied before the first wave.'),
        bridges: bridgesSchema.optional().describe('How calls between services on different clusters keep working while they are split (default: endpoints bridges through each cluster\'s east-west gateway).'),
        externalDns: externalDnsSchema.optional().describe('The zone external-dns writes for both clusters and each cluster\'s owner id: Ferry moves the TXT registry ownership of each slice\'s hostnames to the target at cutover, and back on rollback.'),
        trust: trustSchema.optional().describe('How SealedSecrets, certificates and workload identities are carried to the target (default: sealed again for the target controller, found on the target).'),
        notifications: notificationsSchema.optional().describe('Receivers told about the run: webhooks (JSON, HMAC-signed) and Slack incoming webhooks, with retries; a failing receiver never blocks the run.'),
        waves: z.array(waveSchema).min(1),
      })
      .strict(),
  })
  .strict();

export type MigrationPlan = z.infer<typeof migrationPlanSchema>;
export type Slice = z.infer<typeof sliceSchema>;
export type Wave = z.infer<typeof waveSchema>;
export type ResourceRef = z.infer<typeof resourceRefSchema>;
export type TrafficSettings = z.infer<typeof trafficSchema>;
export type SliceDefaults = z.infer<typeof sliceDefaultsSchema>;

/** The plan's JSON Schema, for editors (yaml-language-server) and the controller's CRD. */
export function planJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://ferry.dev/schemas/v1alpha1/migrationplan.json',
    title: 'Ferry MigrationPlan',
    ...z.toJSONSchema(migrationPlanSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
