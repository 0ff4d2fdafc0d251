/**
 * One run at a time per target namespace and per traffic route, across processes and
 * machines: a Kubernetes Lease (coordination.k8s.io/v1) on the target cluster for each
 * namespace the plan writes to and each route it sets weights on, in `ferry-system`.
 * The Lease is Kubernetes' own lock (leader election uses it), so two machines driving
 * runs against one cluster see each other without any other shared store.
 *
 * A Lease is taken when it is absent, released (no holder), expired (not renewed for
 * `leaseDurationSeconds`, by this machine's clock: the holder died) or held by a dead
 * process of this same run on this host (a `ferry resume` after a crash). Every write is a
 * PUT with the resourceVersion read, so two runs racing for one Lease cannot both win.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { targetClient } from '../apply/slice.js';
import type { KubeClient } from '../kube/client.js';
import type { MigrationPlan } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';
import { isAlive } from '../util/process.js';
import { effectiveSlice } from './slice-settings.js';

export const LEASE_NAMESPACE = 'ferry-system';
const ANNOTATION = { run: 'ferry.dev/run', host: 'ferry.dev/host', pid: 'ferry.dev/pid', plan: 'ferry.dev/plan', scope: 'ferry.dev/scope' } as const;

export interface RunLeaseOptions {
  kubeconfig?: string;
  runId: string;
  /** Default 15 s; a dead run's Leases are taken over this long after their last renewal. */
  leaseDurationSeconds?: number;
  /** Default 5 s. */
  renewSeconds?: number;
  /** Called once if a Lease is lost while the run lives (taken over after renewals failed). */
  onLost?: (error: FerryError) => void;
  /**
   * A holder run this caller knows was abandoned before it started (killed while being set
   * up: no journal record), so its Leases need not be waited out.
   */
  abandoned?: (holderRun: string) => boolean;
  /** Tests: the clock, the host name and pid written as the holder. */
  now?: () => number;
  host?: string;
  pid?: number;
}

export interface RunLeases {
  /** The Leases held, as `ferry-system/<name>` with what each one locks. */
  held: Array<{ name: string; scope: string }>;
  release(): Promise<void>;
}

/** What the plan locks: each target namespace it writes and each traffic route it moves. */
export function runLockScopes(plan: MigrationPlan): Array<{ name: string; scope: string }> {
  const namespaces = new Set<string>();
  const routes = new Map<string, string>();
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    namespaces.add(slice.namespace);
    for (const ref of [...slice.resources, ...slice.workloads]) if (ref.namespace) namespaces.add(ref.namespace);
    const route = routeKey(effectiveSlice(plan, slice).providerSettings);
    if (route) routes.set(route, `traffic route ${route}`);
  }
  const scopes = [...namespaces].map((ns) => ({ name: `ferry-namespace-${ns}`, scope: `namespace ${ns} of the target cluster` }));
  for (const [key, scope] of routes) scopes.push({ name: `ferry-route-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`, scope });
  // Taken in name order, so two runs wanting overlapping sets never each hold half.
  return scopes.sort((a, b) => a.name.localeCompare(b.name));
}

/** The one thing a provider's weights live in, whatever slice or plan names it. */
function routeKey(settings: ReturnType<typeof effectiveSlice>['providerSettings']): string | undefined {
  if (!settings) return undefined;
  switch (settings.type) {
    case 'router': return `router ${new URL(settings.adminUrl).origin} route ${settings.route}`;
    case 'haproxy': return `haproxy ${settings.socket} backend ${settings.backend}`;
    case 'istio': return `istio VirtualService ${settings.namespace}/${settings.name}`;
    case 'gateway-api': return `gateway-api HTTPRoute ${settings.namespace}/${settings.name}`;
    case 'ingress-nginx': return `ingress-nginx Ingress ${settings.namespace}/${settings.name}`;
    case 'powerdns': return `powerdns ${new URL(settings.apiUrl).origin} record ${settings.record.toLowerCase().replace(/\.?$/, '.')}`;
    case 'route53': return `route53 ${settings.hostedZoneId} record ${settings.record.toLowerCase().replace(/\.?$/, '.')}`;
  }
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

/**
 * Takes every Lease the plan needs (all or none) and renews them until `release()`. Refuses
 * with the holder's run id, host, pid and start time when another live run holds one.
 */
export async function acquireRunLeases(plan: MigrationPlan, options: RunLeaseOptions): Promise<RunLeases> {
  const now = options.now ?? Date.now;
  const duration = options.leaseDurationSeconds ?? 15;
  const renewMs = (options.renewSeconds ?? 5) * 1000;
  const me = { run: options.runId, host: options.host ?? hostname(), pid: options.pid ?? process.pid };
  const identity = `${me.run}@${me.host}/${me.pid}`;
  const client = targetClient(plan, options.kubeconfig ? { kubeconfig: options.kubeconfig } : {});
  const scopes = runLockScopes(plan);
  const held = new Map<string, Lease>();

  const path = (name?: string) => `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases${name ? `/${name}` : ''}`;
  const stamp = () => microTime(now());
  const mine = (lease: Lease, scope: string, transition: boolean): Lease => ({
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: {
      ...lease.metadata, namespace: LEASE_NAMESPACE,
      labels: { ...lease.metadata.labels, 'app.kubernetes.io/managed-by': 'ferry' },
      annotations: { ...lease.metadata.annotations, [ANNOTATION.run]: me.run, [ANNOTATION.host]: me.host, [ANNOTATION.pid]: String(me.pid), [ANNOTATION.plan]: plan.metadata.name, [ANNOTATION.scope]: scope },
    },
    spec: {
      holderIdentity: identity, leaseDurationSeconds: duration,
      acquireTime: transition ? stamp() : lease.spec?.acquireTime ?? stamp(), renewTime: stamp(),
      leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (transition && lease.spec?.holderIdentity ? 1 : 0),
    },
  });

  const take = async ({ name, scope }: { name: string; scope: string }): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await getLease(client, path(name));
      try {
        if (!current) {
          held.set(name, await client.request<Lease>({ method: 'POST', path: path(), body: mine({ metadata: { name } }, scope, true) }));
          return;
        }
        if (current.spec?.holderIdentity && current.spec.holderIdentity !== identity && !takeable(current, me, now(), options.abandoned)) {
          throw refusal(current, scope, name, client.contextName, now());
        }
        held.set(name, await client.request<Lease>({ method: 'PUT', path: path(name), body: mine(current, scope, current.spec?.holderIdentity !== identity) }));
        return;
      } catch (error) {
        // Another run wrote the Lease between our read and our write: read it again.
        if (error instanceof FerryError && error.code === 'http-409') continue;
        throw error;
      }
    }
    throw new FerryError('run.locked', `could not take Lease ${LEASE_NAMESPACE}/${name} (${scope}): it kept changing under us`, { fix: 'another run is starting against the same target: wait for it, then try again' });
  };

  const releaseAll = async () => {
    for (const [name, lease] of held) {
      const released: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: null, renewTime: stamp(), leaseDurationSeconds: 1 } };
      await client.request({ method: 'PUT', path: path(name), body: released }).catch(() => undefined);
    }
    held.clear();
  };

  try {
    await ensureNamespace(client);
    for (const scope of scopes) await take(scope);
  } catch (error) {
    await releaseAll();
    client.close();
    throw error;
  }

  let lost = false;
  let lastRenewed = now();
  const renew = async () => {
    try {
      for (const [name, lease] of held) {
        const body = { ...lease, spec: { ...lease.spec, renewTime: stamp() } };
        held.set(name, await client.request<Lease>({ method: 'PUT', path: path(name), body }).catch(async (error: unknown) => {
          if (!(error instanceof FerryError && error.code === 'http-409')) throw error;
          const current = await getLease(client, path(name));
          if (current?.spec?.holderIdentity !== identity) throw lostError(current, lease.metadata.annotations?.[ANNOTATION.scope] ?? name);
          return client.request<Lease>({ method: 'PUT', path: path(name), body: { ...current, spec: { ...current.spec, renewTime: stamp() } } });
        }));
      }
      lastRenewed = now();
    } catch (error) {
      // An unreachable API server is retried at the next tick; the Lease is only lost once
      // it may have expired, or as soon as someone else holds it.
      const taken = error instanceof FerryError && error.code === 'run.lease-lost';
      if (!lost && (taken || now() - lastRenewed > duration * 1000)) {
        lost = true;
        options.onLost?.(taken ? error : new FerryError('run.lease-lost', `could not renew the run's Leases on cluster "${client.contextName}" for ${duration} s; another run may now take the target`, { fix: 'check the target cluster is reachable, then `ferry resume` this run', cause: error }));
      }
    }
  };
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(renew);
  }, renewMs);
  timer.unref();

  return {
    held: scopes,
    async release() {
      clearInterval(timer);
      await renewing;
      await releaseAll();
      client.close();
    },
  };
}

function takeable(lease: Lease, me: { run: string; host: string }, nowMs: number, abandoned?: (run: string) => boolean): boolean {
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
  const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
  if (!Number.isFinite(renewed) || renewed + durationMs < nowMs) return true;
  const a = lease.metadata.annotations ?? {};
  const deadHere = a[ANNOTATION.host] === me.host && !isAlive(Number(a[ANNOTATION.pid]));
  // `ferry resume` of this run after its process died, or a run killed before it started
  // anything: no need to wait out the Lease. A started run's Leases still refuse a new run.
  return deadHere && (a[ANNOTATION.run] === me.run || (abandoned?.(a[ANNOTATION.run] ?? '') ?? false));
}

function refusal(lease: Lease, scope: string, name: string, context: string, nowMs: number): FerryError {
  const a = lease.metadata.annotations ?? {};
  const run = a[ANNOTATION.run] ?? lease.spec?.holderIdentity ?? 'unknown';
  const since = lease.spec?.acquireTime ?? 'an unknown time';
  const renewedAgo = Math.max(0, Math.round((nowMs - Date.parse(lease.spec?.renewTime ?? '')) / 1000));
  return new FerryError('run.locked', `${scope} is held by run ${run} on host ${a[ANNOTATION.host] ?? 'unknown'} (pid ${a[ANNOTATION.pid] ?? '?'}, plan ${a[ANNOTATION.plan] ?? '?'}), started ${since}`, {
    location: { object: `Lease ${LEASE_NAMESPACE}/${name} on cluster "${context}"` },
    fix: `wait for run ${run} to finish, or stop it on its host (\`ferry pause ${run}\` or \`ferry abort ${run}\`); a run that died frees it ${lease.spec?.leaseDurationSeconds ?? 15} s after its last renewal (${Number.isFinite(renewedAgo) ? `${renewedAgo} s ago` : 'never'})`,
  });
}

function lostError(lease: Lease | undefined, scope: string): FerryError {
  const run = lease?.metadata.annotations?.[ANNOTATION.run] ?? lease?.spec?.holderIdentity ?? 'nobody';
  return new FerryError('run.lease-lost', `this run lost its lock on ${scope}: it is now held by run ${run}`, { fix: 'stop this run (`ferry pause`) and let the other finish; two runs must not move the same target' });
}

async function getLease(client: KubeClient, path: string): Promise<Lease | undefined> {
  try {
    return await client.request<Lease>({ path });
  } catch (error) {
    if (error instanceof FerryError && error.code === 'http-404') return undefined;
    throw error;
  }
}

async function ensureNamespace(client: KubeClient): Promise<void> {
  try {
    await client.request({ path: `/api/v1/namespaces/${LEASE_NAMESPACE}` });
  } catch (error) {
    if (!(error instanceof FerryError && error.code === 'http-404')) throw error;
    await client.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LEASE_NAMESPACE } } }).catch((created: unknown) => {
      if (!(created instanceof FerryError && created.code === 'http-409')) throw created;
    });
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, as the API server parses it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
