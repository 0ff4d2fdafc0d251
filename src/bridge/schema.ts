import { z } from 'zod';

/** `host:port` (IPv6 in brackets); the refusal names the expected form. */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, 'write host:port, e.g. 203.0.113.7:15443')
  .refine((value) => {
    const port = /:(\d{1,5})$/.exec(value)?.[1];
    // Without a port the regex above already refused it; one problem is reported once.
    return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
  }, 'the port must be 1-65535');

/**
 * `spec.bridges`: how calls between services split across the two clusters keep working
 * (docs/architecture.md, "Service bridges"). Additive: a plan without it bridges with
 * `endpoints` and finds each cluster's east-west gateway Service.
 */
export const bridgesSchema = z
  .object({
    provider: z
      .enum(['endpoints', 'mcs', 'istio', 'none'])
      .default('endpoints')
      .describe('endpoints: a selector-less Service whose EndpointSlice points at the other cluster\'s east-west gateway; mcs: ServiceExport/ServiceImport (callers must use svc.ns.svc.clusterset.local); istio: a ServiceEntry to the east-west gateway; none: no bridges.'),
    gateways: z
      .object({
        source: hostPort.optional().describe('Address the target cluster reaches the source\'s east-west gateway at.'),
        target: hostPort.optional().describe('Address the source cluster reaches the target\'s east-west gateway at.'),
      })
      .strict()
      .optional()
      .describe('East-west gateway addresses; by default read from each cluster\'s gateway Service (its LoadBalancer address and port named tls).'),
    gatewayService: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'write namespace/name, e.g. istio-system/istio-eastwestgateway')
      .optional()
      .describe('The east-west gateway Service on both clusters (default ferry-system/east-west-gateway, then istio-system/istio-eastwestgateway).'),
    mcs: z
      .object({ createServiceImport: z.boolean().default(false).describe('Write the ServiceImport too: only for a clusterset without an MCS controller that creates it.') })
      .strict()
      .optional(),
    istio: z
      .object({
        networks: z
          .object({ source: z.string().min(1).optional(), target: z.string().min(1).optional() })
          .strict()
          .optional()
          .describe('Istio network names of the clusters (topology.istio.io/network).'),
      })
      .strict()
      .optional(),
  })
  .strict();

export type BridgesSettings = z.infer<typeof bridgesSchema>;
