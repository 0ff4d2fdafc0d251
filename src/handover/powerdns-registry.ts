import { fqdn, powerdnsZoneCall } from '../traffic/powerdns.js';
import type { TxtRecordSet, TxtRegistry } from './external-dns.js';

/**
 * external-dns's TXT registry on PowerDNS, through the same HTTP call (`powerdnsZoneCall`)
 * and name handling (`fqdn`) as the PowerDNS traffic provider.
 */
export function powerdnsTxtRegistry(settings: { apiUrl: string; serverId: string; zone: string; apiKeyEnv: string }, apiKey: string | undefined): TxtRegistry {
  const zone = fqdn(settings.zone);
  const call = (method: string, body?: unknown): Promise<unknown> => powerdnsZoneCall({
    apiUrl: settings.apiUrl, serverId: settings.serverId, zone, apiKey, apiKeyEnv: settings.apiKeyEnv,
    field: 'spec.externalDns.apiUrl', missingZoneFix: `zone ${zone} is not on the server: check spec.externalDns.zone`,
  }, method, '', body);
  return {
    zone,
    async read(names) {
      const wanted = new Set(names.map(fqdn));
      const found = (await call('GET')) as { rrsets?: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string; disabled: boolean }> }> };
      return (found.rrsets ?? []).filter((set) => set.type === 'TXT' && wanted.has(set.name)).map((set): TxtRecordSet => ({ name: set.name, ttl: set.ttl, values: set.records.map((record) => unquote(record.content)) }));
    },
    async write(sets) {
      if (sets.length === 0) return;
      await call('PATCH', { rrsets: sets.map((set) => ({ name: fqdn(set.name), type: 'TXT', ttl: set.ttl, changetype: 'REPLACE', records: set.values.map((value) => ({ content: `"${value}"`, disabled: false })) })) });
    },
  };
}

/** PowerDNS returns TXT content as DNS presentation text: one or more quoted strings. */
function unquote(content: string): string {
  const parts = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!.replace(/\\(.)/g, '$1'));
  return parts.length > 0 ? parts.join('') : content;
}
