import { z } from 'zod';

/**
 * Settings of each traffic provider: the `traffic.provider` block of a slice in the plan.
 * One schema per product, joined on `type`; the plan schema imports `trafficProviderSchema`.
 * Secrets (tokens, API keys) are never in the plan: only the name of the environment
 * variable that holds them.
 */
const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes name: lower-case letters, digits, - and .');
const port = z.number().int().min(1).max(65535);

export const routerProviderSchema = z
  .object({
    type: z.literal('router'),
    adminUrl: z.url({ protocol: /^https?$/ }),
    route: z.string().min(1),
    tokenEnv: z.string().default('FERRY_ROUTER_TOKEN'),
    /**
     * The certificate the router's TLS listener serves, from a kubernetes.io/tls Secret:
     * reconcile reads it through the kubeconfig and installs it over the admin API.
     */
    tls: z
      .object({
        secret: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected NAMESPACE/NAME of a kubernetes.io/tls Secret'),
        /** kubeconfig context of the cluster holding the Secret (default: the current context). */
        context: z.string().min(1).optional(),
        kubeconfig: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const haproxyProviderSchema = z
  .object({
    type: z.literal('haproxy'),
    /** Runtime API: a unix socket path, or host:port of a `stats socket ipv4@...` with `level admin`. */
    socket: z.string().min(1),
    backend: z.string().min(1),
    sourceServer: z.string().min(1),
    targetServer: z.string().min(1),
    /** `server-state-file` named in haproxy.cfg; written after every change so a reload keeps the weights. */
    serverStateFile: z.string().optional(),
  })
  .strict();

const istioDestination = z
  .object({
    host: z.string().min(1),
    subset: k8sName.optional(),
    port: port.optional(),
    /** Pod labels of the subset; when given, Ferry writes the DestinationRule subset. */
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const istioProviderSchema = z
  .object({
    type: z.literal('istio'),
    namespace: k8sName,
    name: k8sName,
    hosts: z.array(z.string().min(1)).min(1),
    gateways: z.array(z.string().min(1)).optional(),
    source: istioDestination,
    target: istioDestination,
  })
  .strict();

const serviceRef = z.object({ name: k8sName, namespace: k8sName.optional(), port }).strict();

export const gatewayApiProviderSchema = z
  .object({
    type: z.literal('gateway-api'),
    namespace: k8sName,
    name: k8sName,
    parentRefs: z.array(z.object({ name: k8sName, namespace: k8sName.optional(), sectionName: z.string().optional() }).strict()).min(1),
    hostnames: z.array(z.string().min(1)).default([]),
    pathPrefix: z.string().startsWith('/').default('/'),
    source: serviceRef,
    target: serviceRef,
  })
  .strict();

export const ingressNginxProviderSchema = z
  .object({
    type: z.literal('ingress-nginx'),
    namespace: k8sName,
    /** The primary Ingress (serving the source); created if missing. The canary is `<name>-ferry-canary`. */
    name: k8sName,
    ingressClassName: z.string().default('nginx'),
    host: z.string().min(1),
    pathPrefix: z.string().startsWith('/').default('/'),
    source: z.object({ service: k8sName, port }).strict(),
    target: z.object({ service: k8sName, port }).strict(),
    /** Cookie that forces a user to the target ("always") or the source ("never"). */
    canaryCookie: z.string().default('ferry_canary'),
  })
  .strict();

const address = z.string().min(1);

export const powerdnsProviderSchema = z
  .object({
    type: z.literal('powerdns'),
    apiUrl: z.url({ protocol: /^https?$/ }),
    serverId: z.string().default('localhost'),
    apiKeyEnv: z.string().default('PDNS_API_KEY'),
    zone: z.string().min(1),
    /** Fully qualified record name, e.g. shop.example.com. */
    record: z.string().min(1),
    recordType: z.enum(['A', 'AAAA']).default('A'),
    source: z.array(address).min(1),
    target: z.array(address).min(1),
    /** TTL during the ramp; the old TTL must expire before the first step. */
    rampTtl: z.number().int().min(1).default(30),
  })
  .strict();

export const route53ProviderSchema = z
  .object({
    type: z.literal('route53'),
    hostedZoneId: z.string().min(1),
    record: z.string().min(1),
    recordType: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
    /** TTL of the existing simple record; its expiry is the wait before the first step. */
    originalTtl: z.number().int().min(0).default(300),
    rampTtl: z.number().int().min(0).default(30),
    source: z.object({ setIdentifier: z.string().default('ferry-source'), values: z.array(address).min(1) }).strict(),
    target: z.object({ setIdentifier: z.string().default('ferry-target'), values: z.array(address).min(1) }).strict(),
    /** Change batches are written here as NNN-<step>.json for `aws route53 change-resource-record-sets`. */
    outDir: z.string().optional(),
  })
  .strict();

export const trafficProviderSchema = z.discriminatedUnion('type', [
  routerProviderSchema,
  haproxyProviderSchema,
  istioProviderSchema,
  gatewayApiProviderSchema,
  ingressNginxProviderSchema,
  powerdnsProviderSchema,
  route53ProviderSchema,
]);

export type TrafficProviderConfig = z.infer<typeof trafficProviderSchema>;
export type RouterProviderConfig = z.infer<typeof routerProviderSchema>;
export type HaproxyProviderConfig = z.infer<typeof haproxyProviderSchema>;
export type IstioProviderConfig = z.infer<typeof istioProviderSchema>;
export type GatewayApiProviderConfig = z.infer<typeof gatewayApiProviderSchema>;
export type IngressNginxProviderConfig = z.infer<typeof ingressNginxProviderSchema>;
export type PowerdnsProviderConfig = z.infer<typeof powerdnsProviderSchema>;
export type Route53ProviderConfig = z.infer<typeof route53ProviderSchema>;
