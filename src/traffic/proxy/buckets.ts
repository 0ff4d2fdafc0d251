/**
 * Sticky routing as pure functions. Every user hashes to a fixed bucket in [0, 10000); the
 * target serves the buckets below its weight (in basis points). Raising the weight only adds
 * buckets to the target, so a user can move source → target but never back while a ramp
 * goes up (the property test in test/unit/traffic checks exactly this).
 */
export const BUCKETS = 10_000;

/** FNV-1a 32-bit over UTF-16 code units, then a murmur3 finaliser so nearby ids spread evenly. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export function bucketOf(userKey: string): number {
  return hashKey(userKey) % BUCKETS;
}

/** Percentage (0–100, two decimals) → basis points of the bucket space. */
export function percentToBasisPoints(percent: number): number {
  return Math.max(0, Math.min(BUCKETS, Math.round(percent * 100)));
}

export type Side = 'source' | 'target';

/** The routing decision: a bucket below the target's share goes to the target. */
export function sideForBucket(bucket: number, targetBasisPoints: number): Side {
  return bucket < targetBasisPoints ? 'target' : 'source';
}

/** A request without a user key gets a fresh bucket from the injected random source. */
export function randomBucket(random: () => number): number {
  return Math.floor(random() * BUCKETS) % BUCKETS;
}

/** Reads one cookie value from a Cookie header without allocating a map of all cookies. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  while (start < header.length) {
    while (header.charCodeAt(start) === 32) start++;
    const end = header.indexOf(';', start);
    const stop = end === -1 ? header.length : end;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < stop && header.slice(start, eq).trim() === name) {
      const value = header.slice(eq + 1, stop).trim();
      return value.length > 0 ? value : undefined;
    }
    start = stop + 1;
  }
  return undefined;
}

/** A new user id: 16 hex characters from the injected random source (not a secret). */
export function newUserId(random: () => number): string {
  let id = '';
  for (let i = 0; i < 4; i++) id += Math.floor(random() * 0x10000).toString(16).padStart(4, '0');
  return id;
}
