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

/** A libpq-style connect string as PgBouncer's [databases] section takes it: key=value pairs, no password (auth_file holds it). */
const pgbouncerConnect = z
  .string()
  .regex(/^(\s*[a-z_]+=[^\s=;]+)+\s*$/, 'key=value pairs, e.g. host=10.0.0.5 port=5432 dbname=shop')
  .refine((value) => !/(^|\s)password=/.test(value), 'no password= in the plan: PgBouncer reads it from its auth_file');

export const pgbouncerAccessSchema = z
  .object({
    type: z.literal('pgbouncer'),
    adminAddress: hostPortSchema.describe('Where PgBouncer listens (its admin console is the database `pgbouncer` there).'),
    adminUser: z.string().min(1).describe('A user in PgBouncer\'s admin_users.'),
    passwordEnv: z.string().min(1).default('FERRY_PGBOUNCER_PASSWORD').describe('Environment variable holding that user\'s password.'),
    database: z.string().min(1).describe('The [databases] entry the applications connect to.'),
    databasesFile: z.string().min(1).describe('File holding PgBouncer\'s [databases] section (%include it from pgbouncer.ini); Ferry rewrites only the line of `database`.'),
    sourceConnect: pgbouncerConnect.describe('Connect string of the source, e.g. host=10.0.0.5 port=5432 dbname=shop.'),
    targetConnect: pgbouncerConnect.describe('Connect string of the target.'),
  })
  .strict();

export const clientAccessSchema = z.discriminatedUnion('type', [serviceAccessSchema, externalNameAccessSchema, endpointAccessSchema, pgbouncerAccessSchema]);

export type ClientAccessConfig = z.infer<typeof clientAccessSchema>;
/** What a plan author writes (defaults not yet applied). */
export type ClientAccessInput = z.input<typeof clientAccessSchema>;
export type ServiceAccessConfig = z.infer<typeof serviceAccessSchema>;
export type ExternalNameAccessConfig = z.infer<typeof externalNameAccessSchema>;
export type EndpointAccessConfig = z.infer<typeof endpointAccessSchema>;
export type PgbouncerAccessConfig = z.infer<typeof pgbouncerAccessSchema>;
