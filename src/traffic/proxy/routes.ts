import { Pool } from 'undici';
import { FerryError } from '../../util/errors.js';
import { bucketOf, newUserId, percentToBasisPoints, randomBucket, readCookie, sideForBucket, type Side } from './buckets.js';
import type { RouteConfig, RouterConfig } from './config.js';
import { H2Upstream } from './http2.js';
import type { RouterMetrics, Series } from './metrics.js';
import { MirrorLedger } from './mirror.js';

/**
 * The live routing table. A route's weight and mirror setting are plain fields replaced in
 * one synchronous assignment: Node runs one request's routing decision at a time, so every
 * request sees either the old or the new weight, never a mix, and in-flight requests keep
 * the backend they were already sent to.
 */
export interface BackendPool {
  name: string;
  url: string;
  pool: Pool;
  /** HTTP/2 sessions to the same backend, for HTTP/2 and gRPC requests. */
  h2: H2Upstream;
  /** Whether HTTP/2 requests other than gRPC reach this backend over HTTP/2 (else over HTTP/1.1 on `pool`). */
  http2: boolean;
  /**
   * performance.now() until which the backend is skipped in favour of the other one, set
   * after a failed connect so that a dead backend costs one refused connect per second
   * rather than one per request.
   */
  downUntil: number;
}

/** undici's default connect timeout, used for HTTP/2 sessions too. */
const CONNECT_TIMEOUT_MS = 10_000;

/** How long a backend whose connect failed is passed over. */
export const EJECT_MS = 1000;

export interface MirrorSetting {
  enabled: boolean;
  percent: number;
  /** Also mirror POST/PUT/PATCH/DELETE; default: the route's configured value. */
  allowNonIdempotent?: boolean;
  /** JSON paths left out of the comparison; default: the route's configured ones. */
  ignorePaths?: string[];
}

/** Where one request (or WebSocket connection) goes, and the cookie to set when a user id was drawn. */
export interface Decision {
  side: Side;
  /** `name=value; attributes` for Set-Cookie, when the router gave the user a new id. */
  setCookie: string | undefined;
}

export interface StickinessSetting {
  mode: 'cookie' | 'header' | 'none';
  name: string;
}

export class RouteState {
  /** Percentage of users served by the target, and the same in basis points of the bucket space. */
  weight: number;
  targetBasisPoints: number;
  mirror: Required<MirrorSetting>;
  /** The comparison settings in force: the configured ones with the ignored paths set at run time. */
  compare: RouteConfig['mirror']['compare'];
  stickiness: StickinessSetting;
  readonly ledger: MirrorLedger;
  readonly hostExact: string | undefined;
  readonly hostSuffix: string | undefined;
  /** Precomputed for the request path: metric series per role, cookie attributes, header name. */
  readonly series: { source: Series; target: Series; shadow: Series };
  readonly setCookieSuffix: string;
  stickyHeader: string;

  constructor(
    readonly config: RouteConfig,
    readonly source: BackendPool,
    readonly target: BackendPool,
    readonly shadow: BackendPool,
    random: () => number,
    metrics: RouterMetrics,
  ) {
    this.series = {
      source: metrics.series(config.name, source.name, 'source'),
      target: metrics.series(config.name, target.name, 'target'),
      shadow: metrics.series(config.name, shadow.name, 'shadow'),
    };
    this.setCookieSuffix = `; Path=/; Max-Age=${config.stickiness.maxAgeSeconds}; HttpOnly; SameSite=Lax`;
    this.stickiness = { mode: config.stickiness.mode, name: config.stickiness.name };
    this.stickyHeader = config.stickiness.name.toLowerCase();
    this.weight = config.weight;
    this.targetBasisPoints = percentToBasisPoints(config.weight);
    this.mirror = { enabled: config.mirror.enabled, percent: config.mirror.percent, allowNonIdempotent: config.mirror.allowNonIdempotent, ignorePaths: config.mirror.compare.ignorePaths };
    this.compare = config.mirror.compare;
    this.ledger = new MirrorLedger(config.name, random);
    const host = config.match.host?.toLowerCase();
    if (host?.startsWith('*.')) this.hostSuffix = host.slice(1);
    else this.hostExact = host;
  }

  /**
   * The routing decision: the user's bucket (cookie, header or a random draw) against one
   * read of the weight, then away from a backend passed over after a failed connect.
   * `now` is performance.now().
   */
  decide(cookieHeader: string | undefined, stickyValue: string | string[] | undefined, random: () => number, now: number): Decision {
    const sticky = this.stickiness;
    let bucket: number;
    let setCookie: string | undefined;
    if (sticky.mode === 'cookie') {
      let user = readCookie(cookieHeader, sticky.name);
      if (user === undefined) {
        user = newUserId(random);
        setCookie = `${sticky.name}=${user}${this.setCookieSuffix}`;
      }
      bucket = bucketOf(user);
    } else if (sticky.mode === 'header') {
      bucket = typeof stickyValue === 'string' && stickyValue.length > 0 ? bucketOf(stickyValue) : randomBucket(random);
    } else {
      bucket = randomBucket(random);
    }
    let side = sideForBucket(bucket, this.targetBasisPoints);
    const other: Side = side === 'target' ? 'source' : 'target';
    if (this[side].downUntil > now && this[other].downUntil <= now) side = other;
    return { side, setCookie };
  }

  setWeight(percent: number): void {
    assertPercent(percent, `routes.${this.config.name}.weight`);
    const basisPoints = percentToBasisPoints(percent);
    this.weight = basisPoints / 100;
    this.targetBasisPoints = basisPoints;
  }

  setMirror(setting: MirrorSetting): void {
    assertPercent(setting.percent, `routes.${this.config.name}.mirror.percent`);
    const ignorePaths = setting.ignorePaths ?? this.mirror.ignorePaths;
    // Replaced whole, in one assignment each: a request sees the old or the new setting.
    this.mirror = { enabled: setting.enabled, percent: setting.percent, allowNonIdempotent: setting.allowNonIdempotent ?? this.mirror.allowNonIdempotent, ignorePaths };
    this.compare = { ...this.compare, ignorePaths };
  }

  /** Users keep their bucket across a change of name only if the same cookie or header carries it. */
  setStickiness(setting: StickinessSetting): void {
    this.stickyHeader = setting.name.toLowerCase();
    this.stickiness = { mode: setting.mode, name: setting.name };
  }

  matches(host: string, path: string): boolean {
    if (this.hostExact !== undefined && host !== this.hostExact) return false;
    if (this.hostSuffix !== undefined && !(host.endsWith(this.hostSuffix) && host.indexOf('.') === host.length - this.hostSuffix.length)) return false;
    const prefix = this.config.match.pathPrefix;
    if (!path.startsWith(prefix)) return false;
    if (prefix.endsWith('/') || path.length === prefix.length) return true;
    const next = path.charCodeAt(prefix.length);
    return next === 47 /* / */ || next === 63 /* ? */;
  }

  view(): RouteView {
    return {
      name: this.config.name,
      match: { host: this.config.match.host, pathPrefix: this.config.match.pathPrefix },
      source: this.source.name,
      target: this.target.name,
      shadow: this.shadow.name,
      weights: { source: round2(100 - this.weight), target: this.weight },
      stickiness: { ...this.stickiness },
      mirror: { ...this.mirror, ignorePaths: [...this.mirror.ignorePaths] },
    };
  }
}

export interface RouteView {
  name: string;
  match: { host: string | undefined; pathPrefix: string };
  source: string;
  target: string;
  shadow: string;
  weights: { source: number; target: number };
  stickiness: StickinessSetting;
  mirror: Required<MirrorSetting>;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function assertPercent(value: number, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new FerryError('weight', `percentage must be a number from 0 to 100, got ${JSON.stringify(value)}`, { location: { field }, fix: 'send a number between 0 and 100' });
  }
}

export class RouteTable {
  readonly routes: RouteState[];
  readonly pools = new Map<string, BackendPool>();

  constructor(config: RouterConfig, random: () => number, metrics: RouterMetrics) {
    for (const [name, backend] of Object.entries(config.backends)) {
      const pool = new Pool(backend.url, {
        connections: backend.connections,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        headersTimeout: config.timeoutMs,
        bodyTimeout: config.timeoutMs,
      });
      this.pools.set(name, { name, url: backend.url, pool, h2: new H2Upstream(backend.url, CONNECT_TIMEOUT_MS), http2: backend.http2 ?? true, downUntil: 0 });
    }
    const poolOf = (name: string) => this.pools.get(name)!;
    this.routes = config.routes.map(
      (route) => new RouteState(route, poolOf(route.source), poolOf(route.target), poolOf(route.shadow ?? route.target), random, metrics),
    );
    // Most specific first: exact host, then wildcard, then any host; longer path prefixes first.
    this.routes.sort((a, b) => specificity(b) - specificity(a));
  }

  find(host: string, path: string): RouteState | undefined {
    for (const route of this.routes) if (route.matches(host, path)) return route;
    return undefined;
  }

  get(name: string): RouteState | undefined {
    return this.routes.find((route) => route.config.name === name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].flatMap((backend) => [backend.pool.destroy(), backend.h2.close(1_000)]));
  }
}

/** The Host header (or :authority) without its port, lower-cased. */
export function hostOf(header: string | undefined): string {
  if (!header) return '';
  const end = header.startsWith('[') ? header.indexOf(']') + 1 : header.indexOf(':');
  return (end > 0 ? header.slice(0, end) : header).toLowerCase();
}

function specificity(route: RouteState): number {
  const hostRank = route.hostExact !== undefined ? 2 : route.hostSuffix !== undefined ? 1 : 0;
  return hostRank * 100_000 + route.config.match.pathPrefix.length;
}
