import { z } from 'zod';

/**
 * How applications reach their database: the plan's `data.clientAccess`, one schema per way,
 * joined on `type`. Ferry moves this address to the new primary inside the cutover's write
 * pause (and back at failback). Secrets are never in the plan: only the name of the
 * environment variable that holds them.
 */
const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes name: lower-case letters, digits, - and .');
const hostName = z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?\.?$/, 'a DNS name');
/** `host:port`, `ip:port` or `[ipv6]:port`. */
export const hostPortSchema = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):\d{1,5}$/, 'host:port, ip:port or [ipv6]:port');
const clustersSchema = z
  .array(z.enum(['source', 'target']))
  .min(1)
  .default(['source', 'target'])
  .describe('Clusters whose applications use this address (Ferry writes it on each).');

export const serviceAccessSchema = z
  .object({
    type: z.literal('service'),
    namespace: k8sName,
    name: k8sName.describe('A Service without a selector; Ferry creates it if missing and owns its EndpointSlice and Endpoints.'),
    port: z.number().int().min(1).max(65535).describe('Port the applications connect to on the Service.'),
    portName: k8sName.optional().describe('Name of that port (default: unnamed).'),
    sourceAddress: hostPortSchema.describe('The source database as the applications\' cluster reaches it (ip:port; a host name becomes an FQDN EndpointSlice, which kube-proxy does not route).'),
    targetAddress: hostPortSchema.describe('The target database, the same way.'),
    clusters: clustersSchema,
  })
  .strict();

export const externalNameAccessSchema = z
  .object({
    type: z.literal('externalName'),
    namespace: k8sName,
    name: k8sName.describe('A Service of type ExternalName; Ferry creates it if missing and switches spec.externalName.'),
    sourceHost: hostName.describe('DNS name of the source database.'),
    targetHost: hostName.describe('DNS name of the target database.'),
    clusters: clustersSchema,
  })
  .strict();

export const endpointAccessSchema = z
  .object({
    type: z.literal('endpoint'),
    adminUrl: z.url({ protocol: /^https?$/ }).describe('Admin API of `ferry data endpoint` (loopback).'),
    tokenEnv: z.string().min(1).default('FERRY_ENDPOINT_TOKEN').describe('Environment variable holding the admin API\'s bearer token.'),
  })
  .strict();

export const clientAccessSchema = z.discriminatedUnion('type', [serviceAccessSchema, externalNameAccessSchema, endpointAccessSchema]);

export type ClientAccessConfig = z.infer<typeof clientAccessSchema>;
/** What a plan author writes (defaults not yet applied). */
export type ClientAccessInput = z.input<typeof clientAccessSchema>;
export type ServiceAccessConfig = z.infer<typeof serviceAccessSchema>;
export type ExternalNameAccessConfig = z.infer<typeof externalNameAccessSchema>;
export type EndpointAccessConfig = z.infer<typeof endpointAccessSchema>;
