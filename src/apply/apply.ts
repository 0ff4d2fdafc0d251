import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { systemClock, type Clock } from '../analysis/clock.js';
import { FerryError, toFerryError } from '../util/errors.js';
import { conflictError, onlyFerryOwnManagers, parseConflicts } from './conflicts.js';
import { comparable, fieldChanges } from './field-diff.js';
import { applyTier, orderForApply } from './order.js';
import { ResourcePaths } from './resources.js';
import { scrub, secretValues } from './secrets.js';
import { waitForReady } from './wait-ready.js';

export const FIELD_MANAGER = 'ferry';

export interface ApplyOptions {
  /** Field manager the objects are applied as (default `ferry`). */
  fieldManager?: string;
  /** Take over fields another manager owns (kubectl's --force-conflicts). */
  force?: boolean;
  /** Objects applied at once within a tier (default 8). */
  concurrency?: number;
  /** How long to wait for readiness (default 5 min; the plan's spec.defaults.readyTimeout). */
  readyTimeoutMs?: number;
  /** Server-side dry run: nothing is changed, nothing is waited for. */
  dryRun?: boolean;
  clock?: Clock;
  /** Progress: `phase` is `apply` (done = objects applied) or `ready` (done = objects ready). */
  onProgress?: (done: number, total: number, what: string, phase?: 'apply' | 'ready') => void;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ObjectResult {
  object: string;
  action: ApplyAction;
  resourceVersion: string;
}

export interface ApplyReport {
  objects: ObjectResult[];
  counts: Record<ApplyAction, number>;
  seconds: number;
}

/**
 * Server-side applies objects to a cluster as field manager `ferry`, tier by tier (see
 * order.ts) with bounded concurrency inside a tier, waits for CRDs to be Established before
 * what follows them, then waits for readiness. Observe-then-ensure: each object is read
 * first and its resourceVersion compared after the apply, so an object the apply did not
 * change is reported unchanged, and running the same apply again changes nothing.
 * Secret values never appear in what it returns or throws.
 *
 * Requests go through KubeClient rather than KubernetesObjectApi: one keep-alive agent for
 * the whole apply (client-node 1.x makes a TLS handshake per call), discovery read once
 * instead of per object, and the exact JSON the server returned (no typed model classes
 * turning timestamps into Dates) for the before/after comparison.
 */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[], options: ApplyOptions = {}): Promise<ApplyReport> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const secrets = secretValues(objects);
  const paths = new ResourcePaths(client);
  await paths.refresh();
  const results: ObjectResult[] = [];
  let done = 0;
  try {
    for (const tier of orderForApply(objects)) {
      const queue = [...tier];
      const worker = async () => {
        for (let object = queue.shift(); object; object = queue.shift()) {
          results.push(await applyOne(client, paths, object, options));
          options.onProgress?.(++done, objects.length, describeObject(object), 'apply');
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, tier.length)) }, worker));
      const definitions = tier.filter((object) => object.kind === 'CustomResourceDefinition');
      if (!options.dryRun && definitions.length > 0) {
        // Custom resources in later tiers need the new types served: Established, then rediscover.
        await waitForReady(client, paths, definitions, { timeoutMs: options.readyTimeoutMs ?? 300_000, clock });
        await paths.refresh();
      }
    }
    if (!options.dryRun) {
      await waitForReady(client, paths, objects.filter((o) => o.kind !== 'CustomResourceDefinition'), {
        timeoutMs: options.readyTimeoutMs ?? 300_000,
        clock,
        onWaiting: (waiting, ready, total) => options.onProgress?.(ready, total, `waiting for ${waiting[0]}${waiting.length > 1 ? ` and ${waiting.length - 1} more` : ''}`, 'ready'),
      });
    }
  } catch (error) {
    // API server messages and Events can quote an object; a Secret's values must not travel with them.
    const failure = toFerryError(error);
    throw new FerryError(failure.code, scrub(failure.message, secrets), { location: failure.location ?? {}, ...(failure.fix ? { fix: scrub(failure.fix, secrets) } : {}) });
  }
  const counts = { created: 0, configured: 0, unchanged: 0 };
  for (const result of results) counts[result.action]++;
  return { objects: sortByTier(results, objects), counts, seconds: (clock.now() - started) / 1000 };
}

async function applyOne(client: KubeClient, paths: ResourcePaths, object: KubeObject, options: ApplyOptions): Promise<ObjectResult> {
  const path = paths.pathOf(object);
  const name = describeObject(object);
  // Observe first: whether the object exists and at which resourceVersion.
  const before = await client.request<KubeObject>({ path }).catch((error: FerryError) => {
    if (error.code === 'http-404') return undefined;
    throw located(error, name);
  });
  const apply = (force: boolean) =>
    client.request<KubeObject>({
      method: 'PATCH',
      path,
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: force ? true : undefined, dryRun: options.dryRun ? 'All' : undefined },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
  let after: KubeObject;
  try {
    after = await apply(Boolean(options.force)).catch((error: FerryError) => {
      // Replicas a Ferry rollback or decommission set to zero go back to the plan's value.
      if (error.code === 'http-409' && onlyFerryOwnManagers(parseConflicts(error.message))) return apply(true);
      throw error;
    });
  } catch (error) {
    const failure = error as FerryError;
    if (failure.code === 'http-409') throw conflictError(name, parseConflicts(failure.message), failure.message);
    // A dry run creates nothing, so an object whose namespace this apply creates finds none.
    if (options.dryRun && !before && failure.code === 'http-404') return { object: name, action: 'created', resourceVersion: '' };
    throw located(failure, name);
  }
  const resourceVersion = String(after.metadata.resourceVersion ?? '');
  return { object: name, action: actionOf(before, after, Boolean(options.dryRun)), resourceVersion };
}

/**
 * Created, configured or unchanged. A real apply is judged by resourceVersion (the server
 * writes nothing, and keeps the version, for a no-op apply); a dry run does not bump the
 * version, so there the would-be object is compared with the live one.
 */
function actionOf(before: KubeObject | undefined, after: KubeObject, dryRun: boolean): ApplyAction {
  if (!before) return 'created';
  if (dryRun) return fieldChanges(comparable(before), comparable(after)).length > 0 ? 'configured' : 'unchanged';
  return before.metadata.resourceVersion === after.metadata.resourceVersion ? 'unchanged' : 'configured';
}

function located(error: FerryError, object: string): FerryError {
  return new FerryError(error.code, error.message, { location: { ...error.location, object }, fix: error.fix ?? 'see the message from the API server' });
}

/** Results in the order they were applied: by tier, then by name. */
function sortByTier(results: ObjectResult[], objects: readonly KubeObject[]): ObjectResult[] {
  const tierOf = new Map(objects.map((object) => [describeObject(object), applyTier(object.kind)]));
  return results.sort((a, b) => (tierOf.get(a.object)! - tierOf.get(b.object)!) || (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
}
