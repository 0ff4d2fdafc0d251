import type { KubeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';

/**
 * external-dns record ownership. external-dns keeps, next to every name it manages, a TXT
 * "registry" record `heritage=external-dns,external-dns/owner=<owner id>,external-dns/resource=…`
 * and changes only names whose owner is its own `--txt-owner-id`. While a slice moves, the
 * source cluster's external-dns owns its names; at cutover the owner becomes the target's
 * (so the target's external-dns may update them and the source's leaves them alone), and a
 * rollback gives them back. Names owned by anyone else are never touched.
 */

export interface TxtRecordSet {
  name: string;
  ttl: number;
  /** Each TXT record's text, unquoted. */
  values: string[];
}

/** Where external-dns keeps its registry: a DNS provider's TXT records in one zone. */
export interface TxtRegistry {
  zone: string;
  read(names: readonly string[]): Promise<TxtRecordSet[]>;
  /** Replaces each set's TXT records (the other types at those names are left alone). */
  write(sets: readonly TxtRecordSet[]): Promise<void>;
}

export const HOSTNAME_ANNOTATION = 'external-dns.alpha.kubernetes.io/hostname';

/** The hostnames external-dns publishes for these objects: Ingress rules and TLS hosts, HTTPRoute hostnames, the hostname annotation. */
export function externalDnsHostnames(objects: readonly KubeObject[]): string[] {
  const hosts = new Set<string>();
  for (const object of objects) {
    for (const host of (object.metadata.annotations?.[HOSTNAME_ANNOTATION] ?? '').split(',')) if (host.trim()) hosts.add(host.trim());
    const spec = (object.spec ?? {}) as { rules?: Array<{ host?: string }>; tls?: Array<{ hosts?: string[] }>; hostnames?: string[] };
    if (object.kind === 'Ingress') {
      for (const rule of spec.rules ?? []) if (rule.host) hosts.add(rule.host);
      for (const tls of spec.tls ?? []) for (const host of tls.hosts ?? []) hosts.add(host);
    }
    if (object.kind === 'HTTPRoute' || object.kind === 'GRPCRoute') for (const host of spec.hostnames ?? []) hosts.add(host);
  }
  // DNS names are case-insensitive and may be written fully qualified: one spelling each.
  return [...new Set([...hosts].map((host) => host.toLowerCase().replace(/\.$/, '')))].sort();
}

/**
 * The TXT names external-dns may have written for a hostname: the name itself (the registry's
 * original format) and the record-type-prefixed names newer versions write (`a-`, `aaaa-`,
 * `cname-`), each after the configured --txt-prefix.
 */
export function registryNames(hostname: string, txtPrefix = ''): string[] {
  return ['', 'a-', 'aaaa-', 'cname-'].map((type) => `${txtPrefix}${type}${hostname}`);
}

const OWNER = /(^|,)external-dns\/owner=([^,]*)/;

/** The owner id of an external-dns registry record, or undefined for any other TXT text. */
export function registryOwner(value: string): string | undefined {
  if (!/(^|,)heritage=external-dns(,|$)/.test(value)) return undefined;
  return OWNER.exec(value)?.[2];
}

export interface OwnershipMove {
  from: string;
  to: string;
  /** TXT names whose registry record now carries `to` (read back). */
  moved: string[];
  /** Names already owned by `to`. */
  already: string[];
  /** Registry records owned by a third owner id: left alone. */
  foreign: Array<{ name: string; owner: string }>;
  /** Hostnames with no registry record at all (external-dns does not manage them). */
  unmanaged: string[];
}

/** Rewrites the owner of the hostnames' registry records from `from` to `to`, then reads them back. */
export async function moveOwnership(registry: TxtRegistry, hostnames: readonly string[], owners: { from: string; to: string }, txtPrefix = ''): Promise<OwnershipMove> {
  const inZone = hostnames.filter((host) => `${host}.`.endsWith(registry.zone.startsWith('.') ? registry.zone : `.${registry.zone}`) || `${host}.` === registry.zone);
  const names = inZone.flatMap((host) => registryNames(host, txtPrefix));
  const sets = await registry.read(names);
  const result: OwnershipMove = { ...owners, moved: [], already: [], foreign: [], unmanaged: [] };
  const changed: TxtRecordSet[] = [];
  for (const set of sets) {
    let touched = false;
    const values = set.values.map((value) => {
      const owner = registryOwner(value);
      if (owner === undefined) return value;
      if (owner === owners.to) {
        result.already.push(set.name);
        return value;
      }
      if (owner !== owners.from) {
        result.foreign.push({ name: set.name, owner });
        return value;
      }
      touched = true;
      return value.replace(OWNER, `$1external-dns/owner=${owners.to}`);
    });
    if (touched) changed.push({ ...set, values });
  }
  await registry.write(changed);
  const after = await registry.read(changed.map((set) => set.name));
  for (const set of changed) {
    const now = after.find((candidate) => candidate.name === set.name);
    if (!now?.values.some((value) => registryOwner(value) === owners.to)) {
      throw new FerryError('external-dns.owner', `the TXT registry record ${set.name} does not read back with owner ${owners.to}`, { location: { field: 'spec.externalDns' }, fix: 'check that nothing else (the source\'s external-dns) rewrote it; then `ferry resume`' });
    }
    result.moved.push(set.name);
  }
  const withRegistry = new Set(sets.flatMap((set) => set.values.some((value) => registryOwner(value) !== undefined) ? [set.name] : []));
  result.unmanaged = inZone.filter((host) => !registryNames(host, txtPrefix).some((name) => withRegistry.has(`${name}.`) || withRegistry.has(name)));
  return result;
}
