import { fqdn } from '../traffic/powerdns.js';
import { FerryError } from '../util/errors.js';
import type { TxtRecordSet, TxtRegistry } from './external-dns.js';

/**
 * external-dns's TXT registry on PowerDNS, through the same HTTP API (and the same name
 * handling, `fqdn`) as the PowerDNS traffic provider. That provider's HTTP call is private to
 * its class in src/traffic, which this module may not change, so the few lines of the call
 * are here; the error texts say the same things.
 */
export function powerdnsTxtRegistry(settings: { apiUrl: string; serverId: string; zone: string; apiKeyEnv: string }, apiKey: string | undefined): TxtRegistry {
  const zone = fqdn(settings.zone);
  const call = async (method: string, body?: unknown): Promise<unknown> => {
    const url = new URL(`/api/v1/servers/${encodeURIComponent(settings.serverId)}/zones/${encodeURIComponent(zone)}`, settings.apiUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (apiKey) headers['x-api-key'] = apiKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new FerryError('powerdns-unreachable', `cannot reach the PowerDNS API at ${settings.apiUrl}: ${(error as Error).message}`, { location: { field: 'spec.externalDns.apiUrl' }, fix: 'set api=yes and webserver-address/port in pdns.conf and point apiUrl at it', cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? message;
      } catch {
        // not JSON; keep the text
      }
      const fix = response.status === 401 ? `set ${settings.apiKeyEnv} to the server's api-key` : response.status === 404 ? `zone ${zone} is not on the server: check spec.externalDns.zone` : 'see the message from PowerDNS';
      throw new FerryError(`powerdns-${response.status}`, `PowerDNS ${method} zone ${zone}: ${message}`, { location: { field: 'spec.externalDns' }, fix });
    }
    return text.length > 0 ? JSON.parse(text) : undefined;
  };
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
