import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { systemClock, type Clock } from '../analysis/clock.js';
import { FerryError } from '../util/errors.js';
import { orderForApply } from './order.js';
import { waitForReady } from './readiness.js';
import { ResourcePaths } from './resources.js';
import { scrub, secretValues } from './secrets.js';

export const FIELD_MANAGER = 'ferry';

export interface ApplyOptions {
  /** Field manager the objects are applied as (default `ferry`). */
  fieldManager?: string;
  /** Take over fields another manager owns (kubectl's --force-conflicts). */
  force?: boolean;
  /** Objects applied at once within a tier. */
  concurrency?: number;
  readyTimeoutMs?: number;
  /** Server-side dry run: nothing is changed, nothing is waited for. */
  dryRun?: boolean;
  clock?: Clock;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface ObjectResult {
  object: string;
  action: 'created' | 'configured' | 'unchanged';
  resourceVersion: string;
}

export interface ApplyReport {
  objects: ObjectResult[];
  counts: { created: number; configured: number; unchanged: number };
  seconds: number;
}

/**
 * Server-side applies objects to a cluster as field manager `ferry`, tier by tier (see
 * order.ts) with bounded concurrency inside a tier, waits for CRDs to be Established before
 * what follows them, then waits for readiness. Observe-then-ensure: each object is read
 * first, so an object the apply did not change is reported unchanged, and running the same
 * apply again changes nothing. Secret values never appear in what it returns or throws.
 */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[], options: ApplyOptions = {}): Promise<ApplyReport> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const secrets = secretValues(objects);
  const paths = new ResourcePaths(client);
  await paths.refresh();
  const results: ObjectResult[] = [];
  let done = 0;
  for (const tier of orderForApply(objects)) {
    const queue = [...tier];
    const worker = async () => {
      for (let object = queue.shift(); object; object = queue.shift()) {
        results.push(await applyOne(client, paths, object, options, secrets));
        options.onProgress?.(++done, objects.length, describeObject(object));
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, tier.length) }, worker));
    if (!options.dryRun && tier.some((object) => object.kind === 'CustomResourceDefinition')) {
      await waitForReady(client, paths, tier.filter((o) => o.kind === 'CustomResourceDefinition'), { timeoutMs: 60_000, clock });
      await paths.refresh();
    }
  }
  if (!options.dryRun) await waitForReady(client, paths, objects.filter((o) => o.kind !== 'CustomResourceDefinition'), { timeoutMs: options.readyTimeoutMs ?? 300_000, clock });
  const counts = { created: 0, configured: 0, unchanged: 0 };
  for (const result of results) counts[result.action]++;
  return { objects: results.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0)), counts, seconds: (clock.now() - started) / 1000 };
}

async function applyOne(client: KubeClient, paths: ResourcePaths, object: KubeObject, options: ApplyOptions, secrets: readonly string[]): Promise<ObjectResult> {
  const path = paths.pathOf(object);
  const name = describeObject(object);
  const before = await client.request<KubeObject>({ path }).catch((error: FerryError) => {
    if (error.code === 'http-404') return undefined;
    throw sanitize(error, secrets, name);
  });
  try {
    const after = await client.request<KubeObject>({
      method: 'PATCH',
      path,
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: options.force ? true : undefined, dryRun: options.dryRun ? 'All' : undefined },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
    const resourceVersion = String(after.metadata.resourceVersion ?? '');
    const action = !before ? 'created' : before.metadata.resourceVersion === resourceVersion ? 'unchanged' : 'configured';
    return { object: name, action, resourceVersion };
  } catch (error) {
    throw sanitize(error as FerryError, secrets, name);
  }
}

/** API server messages can quote the object; a Secret's values must not travel with them. */
function sanitize(error: FerryError, secrets: readonly string[], name: string): FerryError {
  const conflict = error.code === 'http-409';
  return new FerryError(conflict ? 'apply-conflict' : error.code, scrub(error.message, secrets), {
    location: { ...error.location, object: name },
    fix: conflict ? 'another field manager owns these fields on the target: resolve it there, or apply with --force-conflicts to take them over' : error.fix ?? 'see the message from the API server',
  });
}
