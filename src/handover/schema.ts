import { z } from 'zod';

/**
 * spec.externalDns: the DNS zone external-dns writes on both clusters, and each cluster's
 * owner id (external-dns `--txt-owner-id`). At the slice's cutover Ferry moves the TXT
 * registry records of the slice's hostnames from the source's owner id to the target's, so
 * the target's external-dns may update the names and the source's leaves them alone.
 */
export const externalDnsSchema = z
  .object({
    provider: z.literal('powerdns').describe('The DNS provider external-dns writes to (PowerDNS HTTP API).'),
    apiUrl: z.url({ protocol: /^https?$/ }).describe('PowerDNS HTTP API, e.g. http://pdns.example.com:8081'),
    serverId: z.string().default('localhost'),
    apiKeyEnv: z.string().default('PDNS_API_KEY').describe('Environment variable holding the API key (never the key itself).'),
    zone: z.string().min(1).describe('The zone holding the slice\'s hostnames, e.g. example.com.'),
    sourceOwnerId: z.string().min(1).describe('The source cluster\'s external-dns --txt-owner-id.'),
    targetOwnerId: z.string().min(1).describe('The target cluster\'s external-dns --txt-owner-id.'),
    txtPrefix: z.string().default('').describe('external-dns --txt-prefix, if set.'),
  })
  .strict();

export type ExternalDnsSettings = z.infer<typeof externalDnsSchema>;

/** slice.keepAddresses: the slice's Services keep their node ports and load-balancer address fields on the target. */
export const keepAddressesSchema = z.boolean().optional().describe('Keep Service node ports (pinned) and load-balancer address fields (loadBalancerIP, loadBalancerClass, provider annotations) on the target.');
