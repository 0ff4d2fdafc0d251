import { FerryError } from '../util/errors.js';
import type { PowerdnsProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * Weighted DNS on PowerDNS Authoritative: the name becomes a LUA record
 * `A "pickwrandom({{w,'addr'},...})"` (https://doc.powerdns.com/authoritative/lua-records/functions.html#pickwrandom),
 * written through the HTTP API. Resolvers cache answers for the TTL, so reconcile first
 * lowers the TTL (remembering the original in an rrset comment, which survives a crash of
 * the orchestrator) and returns the old TTL as the time to wait before the first step.
 */
interface RRSet {
  name: string;
  type: string;
  ttl: number;
  records: Array<{ content: string; disabled: boolean }>;
  comments?: Array<{ content: string; account: string; modified_at?: number }>;
}

const COMMENT_ACCOUNT = 'ferry';

export function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

/** Integer weights: every source address shares the source's percentage, every target address the target's. */
export function luaContent(config: PowerdnsProviderConfig, targetPercent: number): string {
  const entries: string[] = [];
  const sourceWeight = (100 - targetPercent) * config.target.length;
  const targetWeight = targetPercent * config.source.length;
  // pickwrandom picks among listed entries; a 0 weight is left out rather than listed.
  if (sourceWeight > 0) for (const address of config.source) entries.push(`{${sourceWeight},'${address}'}`);
  if (targetWeight > 0) for (const address of config.target) entries.push(`{${targetWeight},'${address}'}`);
  return `${config.recordType} "pickwrandom({${entries.join(',')}})"`;
}

/** Reads the weights back from a LUA record's content. */
export function parseLuaWeights(content: string, config: PowerdnsProviderConfig): TrafficWeights {
  let source = 0;
  let target = 0;
  for (const match of content.matchAll(/\{\s*(\d+)\s*,\s*'([^']+)'\s*\}/g)) {
    const weight = Number(match[1]);
    if (config.source.includes(match[2]!)) source += weight;
    else if (config.target.includes(match[2]!)) target += weight;
  }
  const total = source + target;
  if (total === 0) return { source: 0, target: 0 };
  const targetPercent = Math.round((target * 100) / total);
  return { source: 100 - targetPercent, target: targetPercent };
}

export class PowerdnsProvider implements TrafficProvider {
  readonly type = 'powerdns' as const;
  readonly capabilities = { mirror: false, mirrorPercent: false, sticky: false };
  private readonly zone: string;
  private readonly name: string;

  constructor(
    private readonly config: PowerdnsProviderConfig,
    private readonly apiKey: string | undefined,
  ) {
    this.zone = fqdn(config.zone);
    this.name = fqdn(config.record);
    this.changeSettleMs = config.rampTtl * 1000;
  }

  /** Resolvers may keep the previous answer for the ramp TTL after every change. */
  readonly changeSettleMs: number;

  async reconcile(): Promise<{ settleMs: number }> {
    const sets = await this.rrsets();
    const lua = sets.find((set) => set.type === 'LUA');
    const plain = sets.find((set) => set.type === this.config.recordType);
    const remembered = lua ? originalTtl(lua) : undefined;
    const original = remembered ?? plain?.ttl ?? lua?.ttl ?? this.config.rampTtl;
    const weights = lua ? parseLuaWeights(lua.records[0]?.content ?? '', this.config) : plain ? this.plainWeights(plain) : { source: 100, target: 0 };
    const oldTtl = lua?.ttl ?? plain?.ttl ?? 0;
    const changes: unknown[] = [];
    // A name cannot answer from both a plain A rrset and a LUA A record: replace it in one PATCH.
    if (plain) changes.push({ name: this.name, type: this.config.recordType, changetype: 'DELETE' });
    changes.push(this.luaChange(weights.target, original));
    await this.patch(changes);
    return { settleMs: oldTtl > this.config.rampTtl ? oldTtl * 1000 : 0 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    const lua = (await this.rrsets()).find((set) => set.type === 'LUA');
    await this.patch([this.luaChange(targetPercent, lua ? originalTtl(lua) ?? lua.ttl : this.config.rampTtl)]);
  }

  async getWeights(): Promise<TrafficWeights> {
    const sets = await this.rrsets();
    const lua = sets.find((set) => set.type === 'LUA');
    if (lua) return parseLuaWeights(lua.records[0]?.content ?? '', this.config);
    const plain = sets.find((set) => set.type === this.config.recordType);
    if (plain) return this.plainWeights(plain);
    throw new FerryError('not-found', `${this.name} has no ${this.config.recordType} or LUA record in zone ${this.zone}`, { fix: 'create the record, or run the slice from its first traffic step (reconcile writes it)' });
  }

  /** After the last step: a plain record of the target's addresses at the original TTL; the source's answers are gone. */
  async complete(): Promise<void> {
    const lua = (await this.rrsets()).find((set) => set.type === 'LUA');
    if (!lua) return;
    await this.patch([
      { name: this.name, type: 'LUA', changetype: 'DELETE' },
      { name: this.name, type: this.config.recordType, ttl: originalTtl(lua) ?? lua.ttl, changetype: 'REPLACE', records: this.config.target.map((content) => ({ content, disabled: false })) },
    ]);
  }

  /** A plain record answers with the side whose addresses it lists. */
  private plainWeights(plain: RRSet): TrafficWeights {
    const addresses = plain.records.filter((record) => !record.disabled).map((record) => record.content);
    const target = addresses.length > 0 && addresses.every((address) => this.config.target.includes(address));
    return target ? { source: 0, target: 100 } : { source: 100, target: 0 };
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
  }

  async status(): Promise<TrafficStatus> {
    const lua = await this.luaRecord();
    return { type: this.type, weights: parseLuaWeights(lua.records[0]?.content ?? '', this.config), mirror: { enabled: false, percent: 0 }, detail: { record: this.name, ttl: lua.ttl, content: lua.records[0]?.content, originalTtl: originalTtl(lua) } };
  }

  /** Back to a plain record of the source addresses, at the TTL it had before the ramp. */
  async finalize(): Promise<void> {
    const lua = (await this.rrsets()).find((set) => set.type === 'LUA');
    const ttl = lua ? originalTtl(lua) ?? lua.ttl : this.config.rampTtl;
    await this.patch([
      { name: this.name, type: 'LUA', changetype: 'DELETE' },
      { name: this.name, type: this.config.recordType, ttl, changetype: 'REPLACE', records: this.config.source.map((content) => ({ content, disabled: false })) },
    ]);
  }

  private luaChange(targetPercent: number, original: number): unknown {
    return {
      name: this.name,
      type: 'LUA',
      ttl: this.config.rampTtl,
      changetype: 'REPLACE',
      records: [{ content: luaContent(this.config, targetPercent), disabled: false }],
      comments: [{ content: `original-ttl=${original}`, account: COMMENT_ACCOUNT }],
    };
  }

  private async luaRecord(): Promise<RRSet> {
    const lua = (await this.rrsets()).find((set) => set.type === 'LUA');
    if (!lua) throw new FerryError('not-found', `${this.name} has no LUA record in zone ${this.zone}`, { fix: 'run the slice from its first traffic step (reconcile writes it)' });
    return lua;
  }

  private async rrsets(): Promise<RRSet[]> {
    const zone = (await this.call('GET', '')) as { rrsets?: RRSet[] };
    return (zone.rrsets ?? []).filter((set) => set.name === this.name);
  }

  private async patch(rrsets: unknown[]): Promise<void> {
    await this.call('PATCH', '', { rrsets });
  }

  private call(method: string, suffix: string, body?: unknown): Promise<unknown> {
    return powerdnsZoneCall({
      apiUrl: this.config.apiUrl, serverId: this.config.serverId, zone: this.zone, apiKey: this.apiKey, apiKeyEnv: this.config.apiKeyEnv,
      field: 'traffic.provider.apiUrl', missingZoneFix: `create zone ${this.zone} on the server first`,
    }, method, suffix, body);
  }
}

export interface PowerdnsZone {
  apiUrl: string;
  serverId: string;
  /** The zone's name with its trailing dot (`fqdn`). */
  zone: string;
  apiKey: string | undefined;
  /** Where the key comes from, for the fix of a 401. */
  apiKeyEnv: string;
  /** The plan field the API address is set in, for errors. */
  field: string;
  /** What to do when the server has no such zone. */
  missingZoneFix: string;
}

/**
 * One call to PowerDNS's HTTP API for a zone (`/api/v1/servers/<id>/zones/<zone><suffix>`):
 * JSON in and out, a 10 s limit, errors naming the zone, PowerDNS's own message and the fix.
 * Shared by the traffic provider and external-dns's TXT registry (src/handover).
 */
export async function powerdnsZoneCall(target: PowerdnsZone, method: string, suffix = '', body?: unknown): Promise<unknown> {
  const url = new URL(`/api/v1/servers/${encodeURIComponent(target.serverId)}/zones/${encodeURIComponent(target.zone)}${suffix}`, target.apiUrl);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.apiKey) headers['x-api-key'] = target.apiKey;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new FerryError('powerdns-unreachable', `cannot reach the PowerDNS API at ${target.apiUrl}: ${(error as Error).message}`, {
      location: { field: target.field },
      fix: 'set api=yes and webserver-address/port in pdns.conf and point apiUrl at it',
      cause: error,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text.slice(0, 200);
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON; keep the text
    }
    const fix = response.status === 401 ? `set ${target.apiKeyEnv} to the server's api-key` : response.status === 404 ? target.missingZoneFix : 'see the message from PowerDNS';
    throw new FerryError(`powerdns-${response.status}`, `PowerDNS ${method} zone ${target.zone}: ${message}`, { fix });
  }
  return text.length > 0 ? JSON.parse(text) : undefined;
}

function originalTtl(set: RRSet): number | undefined {
  const comment = set.comments?.find((candidate) => candidate.account === COMMENT_ACCOUNT && candidate.content.startsWith('original-ttl='));
  return comment ? Number(comment.content.slice('original-ttl='.length)) : undefined;
}
