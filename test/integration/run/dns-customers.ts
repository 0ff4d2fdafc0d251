import { Resolver } from 'node:dns/promises';
import { Pool } from 'undici';
import { driveLoad } from '../analysis/helpers.js';

/**
 * One user's stub resolver: asks the authoritative server directly and keeps the answer for
 * its TTL, as a caching resolver would, then asks again. Hand-written because the point is
 * the TTL: node's `dns.lookup` goes through getaddrinfo (no TTL, no server of our choosing),
 * and c-ares' own query cache is kept out of it by a fresh channel per question.
 */
export class CachingResolver {
  private cached: { address: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(private readonly server: string) {}

  resolve(name: string): Promise<string> {
    if (this.cached && this.cached.expiresAt > Date.now()) return Promise.resolve(this.cached.address);
    this.pending ??= this.ask(name).finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async ask(name: string): Promise<string> {
    const resolver = new Resolver({ timeout: 1000, tries: 3 });
    resolver.setServers([this.server]);
    const answers = await resolver.resolve4(name, { ttl: true });
    const answer = answers[0];
    if (!answer) throw new Error(`no address for ${name}`);
    this.cached = { address: answer.address, expiresAt: Date.now() + answer.ttl * 1000 };
    return answer.address;
  }
}

export interface DnsCustomersResult {
  requests: number;
  failed: number;
  durationMs: number;
  /** Requests answered per address the name resolved to. */
  byAddress: Record<string, number>;
  failures: string[];
}

/**
 * `users` customers, each with its own resolver cache, sending `rate` requests per second in
 * all (round-robin over the users) for at most `durationMs`: each request resolves `name`
 * through the DNS server at `dnsServer` and goes to http://ADDRESS:port with Host `name`.
 */
export function startDnsCustomers(options: { dnsServer: string; name: string; port: number; users: number; rate: number; durationMs: number }): { done: Promise<DnsCustomersResult>; stop(): void } {
  const resolvers = Array.from({ length: options.users }, () => new CachingResolver(options.dnsServer));
  const pools = new Map<string, Pool>();
  const poolFor = (address: string) => {
    let pool = pools.get(address);
    if (!pool) {
      pool = new Pool(`http://${address}:${options.port}`, { connections: 16 });
      pools.set(address, pool);
    }
    return pool;
  };
  const byAddress: Record<string, number> = {};
  const failures: string[] = [];
  let next = 0;
  let stopped = false;
  const send = async () => {
    const resolver = resolvers[next++ % resolvers.length]!;
    try {
      const address = await resolver.resolve(options.name);
      const response = await poolFor(address).request({ method: 'GET', path: '/', headers: { host: options.name } });
      const body = await response.body.text();
      if (response.statusCode >= 500) failures.push(`${address}: ${response.statusCode} ${body.slice(0, 80)}`);
      else byAddress[address] = (byAddress[address] ?? 0) + 1;
      return response.statusCode;
    } catch (error) {
      failures.push((error as Error).message);
      throw error;
    }
  };
  const done = driveLoad(send, options.rate, options.durationMs, () => stopped).then(async (stats) => {
    await Promise.all([...pools.values()].map((pool) => pool.close()));
    return { ...stats, byAddress, failures };
  });
  return { done, stop: () => (stopped = true) };
}
