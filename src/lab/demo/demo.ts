import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadKubeConfig } from '../../kube/config.js';
import { KubeClient } from '../../kube/client.js';
import pg from 'pg';
import { startLab, type Lab } from '../cluster.js';
import { startLocalPostgres, type LocalPostgres } from '../../data/postgres/local-server.js';
import { startDatabaseEndpoint, type DatabaseEndpoint } from '../../data/endpoint.js';
import { createDataProvider } from '../../data/index.js';
import { startRouter, type Router } from '../../traffic/proxy/server.js';
import { routerConfigSchema } from '../../traffic/proxy/config.js';
import { createTrafficProvider } from '../../traffic/index.js';
import { RouterMetricsProvider, observeRouter } from '../../analysis/router-metrics.js';
import { systemClock } from '../../analysis/clock.js';
import { inventoryFromCluster } from '../../inventory/load.js';
import { generatePlan } from '../../plan/generate.js';
import { parsePlan } from '../../plan/load.js';
import { validatePlanMeaning } from '../../plan/validate.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { desiredObjects, findSlice } from '../../apply/desired.js';
import { Journal, readJournal } from '../../journal/journal.js';
import { createRun } from '../../run/store.js';
import { executeRun } from '../../run/engine.js';
import type { RunEnvironment, SliceServices } from '../../run/services.js';
import { deriveRunState } from '../../run/state.js';
import { toYamlText } from '../../util/output.js';
import { FerryError, toFerryError } from '../../util/errors.js';
import { applyObjects } from '../../apply/apply.js';
import { FERRY_DECOMMISSION_MANAGER } from '../../apply/conflicts.js';
import { scaleToZero } from '../../run/environment.js';
import { startLoad, type RunningLoad } from './load.js';
import { SHOP_HOST, shopManifests } from './shop.js';
import { buildScorecard, type Scorecard } from './scorecard.js';

export interface DemoOptions {
  /** Where the demo keeps its kubeconfig, plan and run journal. */
  dir?: string;
  /** Customer requests per second during the migration. */
  rate?: number;
  onProgress?: (message: string) => void;
}

/**
 * `ferry demo`: two lab clusters, a shop on PostgreSQL serving customers on the source,
 * and a whole migration of it to the target under that load: apply, data sync, parity,
 * shadow, ramp judged live, data cutover with reverse replication, decommission. Returns
 * the scorecard; everything it started is stopped, whatever happens.
 */
export async function runDemo(options: DemoOptions = {}): Promise<Scorecard> {
  const dir = resolve(options.dir ?? join('.ferry', 'demo'));
  mkdirSync(dir, { recursive: true });
  const say = options.onProgress ?? (() => undefined);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let load: RunningLoad | undefined;
  try {
    say('starting two lab clusters (source, target) with pods as local processes');
    const lab: Lab = await startLab({ clusters: ['source', 'target'], pods: 'processes' });
    cleanups.push(() => lab.stop());
    // Pod output is kept beside the journal: what a rehearsal's applications said is evidence too.
    cleanups.push(async () => savePodLogs(lab, join(dir, 'logs')));
    const kubeconfigFile = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigFile, lab.kubeconfig, { mode: 0o600 });
    const [source, target] = lab.clusters as [Lab['clusters'][0], Lab['clusters'][0]];

    say('starting PostgreSQL 15 for each side and the shop database endpoint');
    const [sourceDb, targetDb] = await Promise.all([startLocalPostgres({ name: 'ferry-demo-source' }), startLocalPostgres({ name: 'ferry-demo-target' })]);
    cleanups.push(() => sourceDb.stop(), () => targetDb.stop());
    const endpoint: DatabaseEndpoint = await startDatabaseEndpoint({ host: sourceDb.host, port: sourceDb.port });
    cleanups.push(() => endpoint.close());
    // The application's own role exists on both sides with the same password, as it must in
    // production for the endpoint switch to be invisible to the application.
    const appPassword = randomBytes(12).toString('hex');
    await Promise.all([sourceDb, targetDb].map((db) => createAppRole(db, 'shop', appPassword)));
    const shopUrl = `postgresql://shop:${appPassword}@${endpoint.host}:${endpoint.port}/${sourceDb.database}`;

    say('deploying the shop on the source cluster');
    // As the shop team's CI would: its own field manager, then wait for the rollout.
    const sourceClient = new KubeClient(loadKubeConfig({ kubeconfig: kubeconfigFile, context: 'source' }));
    const targetClient = new KubeClient(loadKubeConfig({ kubeconfig: kubeconfigFile, context: 'target' }));
    cleanups.push(async () => sourceClient.close(), async () => targetClient.close());
    await applyObjects(sourceClient, shopManifests(shopUrl), { fieldManager: 'team-shop-ci', readyTimeoutMs: 60_000 });

    say('starting the embedded router in front of both clusters, and customers');
    const token = randomBytes(16).toString('hex');
    process.env.FERRY_ROUTER_TOKEN = token;
    const router: Router = await startRouter(routerConfigSchema.parse({
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0', tokenEnv: 'FERRY_ROUTER_TOKEN' },
      backends: { source: { url: source.ingress!.url }, target: { url: target.ingress!.url } },
      routes: [{
        name: 'shop', match: { host: SHOP_HOST }, source: 'source', target: 'target', weight: 0,
        stickiness: { mode: 'cookie', name: 'ferry-user' },
        mirror: { enabled: false, percent: 20, compare: { ignorePaths: ['stock', 'createdAt'] } },
      }],
    }), { adminToken: token });
    cleanups.push(() => router.close());
    const metrics = new RouterMetricsProvider();
    cleanups.push(async () => observeRouter(router, metrics, 'shop')());
    load = startLoad({ url: router.url, host: SHOP_HOST, ratePerSecond: options.rate ?? 100, writeShare: 0.25, users: 500, maxSeconds: 600, maxRequests: 120_000 });

    say('planning the migration from the live source cluster');
    const sourceInventory = await inventoryFromCluster({ kubeconfig: kubeconfigFile, context: 'source' });
    const plan = demoPlan(sourceInventory, kubeconfigFile, router.adminUrl!);
    const planFile = join(dir, 'plan.yaml');
    writeFileSync(planFile, toYamlText(plan));
    const loaded = parsePlan(toYamlText(plan), planFile).plan;
    const problems = validatePlanMeaning(loaded).filter((p) => p.severity === 'error');
    if (problems.length > 0) throw new FerryError('demo', `the demo plan is not valid: ${problems[0]!.message}`, { location: { file: planFile, field: problems[0]!.field } });

    const files = createRun(join(dir, 'state'), loaded);
    const journal = Journal.open(files.journal);
    const data = createDataProvider({ kind: 'postgres', name: 'shop', source: { url: sourceDb.connectionString }, target: { url: targetDb.connectionString } });
    cleanups.push(() => data.close());
    const traffic = createTrafficProvider(sliceProvider(loaded));
    const env: RunEnvironment = {
      clock: systemClock,
      onProgress: ({ slice, stage, detail }) => say(`${slice}: ${stage}${detail ? ` ${detail}` : ''}`),
      servicesFor: async (name): Promise<SliceServices> => {
        const slice = findSlice(loaded, name);
        return {
          apply: async () => {
            const { desired } = desiredObjects(loaded, sourceInventory, { slices: [slice], prerequisites: true });
            const report = await applyObjects(targetClient, desired, { readyTimeoutMs: 60_000 });
            return report.counts;
          },
          traffic,
          metrics: { provider: metrics, source: 'source', target: 'target' },
          shadowStats: async () => {
            const stats = router.mirrorStats('shop');
            return { compared: stats.compared, mismatched: stats.mismatched };
          },
          data,
          repointData: async (side) => endpoint.switchTo(side === 'target' ? { host: targetDb.host, port: targetDb.port } : { host: sourceDb.host, port: sourceDb.port }),
          decommission: async () => {
            // A merge patch, not an apply: the source's manifests stay owned by whoever applied them.
            const scaled = await scaleToZero(sourceClient, slice.workloads, FERRY_DECOMMISSION_MANAGER);
            const teardown = await data.teardown();
            return { scaledToZero: scaled.length, replicationObjectsDropped: teardown.dropped.length, leftovers: teardown.leftovers.length };
          },
        };
      },
    };
    say(`run ${files.id}: journal ${files.journal}`);
    let runError: FerryError | undefined;
    const startedAt = Date.now();
    try {
      await executeRun(files.id, loaded, journal, env);
    } catch (error) {
      runError = toFerryError(error);
    }
    const finishedAt = Date.now();
    // Customers keep coming for a moment after the last stage, now all on the target.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result = await load.stop();
    load = undefined;
    journal.close();
    const acked = result.acknowledgedOrders;
    const found = await countOrders(targetDb, acked);
    const records = readJournal(files.journal);
    return buildScorecard({
      run: files.id, dir, planFile, journalFile: files.journal,
      state: deriveRunState(files.id, loaded, records.records), records: records.records, journalIntact: records.verify.ok,
      load: result, acknowledgedOrders: acked.length, ordersFoundOnTarget: found,
      durationMs: finishedAt - startedAt, error: runError?.oneLine(),
    });
  } finally {
    if (load) await load.stop().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** The generated plan, tuned for a rehearsal of a minute: short windows, router traffic, PostgreSQL data. */
function demoPlan(inventory: Awaited<ReturnType<typeof inventoryFromCluster>>, kubeconfig: string, adminUrl: string): MigrationPlan {
  const plan = generatePlan(inventory.objects, { name: 'shop-demo', source: { context: 'source', kubeconfig }, target: { context: 'target', kubeconfig }, steps: [5, 25, 50, 100], stepWindow: '4s' });
  plan.spec.defaults.traffic.mirror = { percent: 20, duration: '4s', allowNonIdempotent: false, ignoreJsonPaths: ['stock', 'createdAt'] };
  plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
  plan.spec.defaults.decommission = { ...plan.spec.defaults.decommission, after: '2s' };
  const shop = plan.spec.waves.flatMap((wave) => wave.slices).find((slice) => slice.name === 'shop');
  if (!shop) throw new FerryError('demo', 'the plan has no shop slice', { fix: 'this is a bug in the demo' });
  shop.owner = 'team-shop';
  shop.traffic = { provider: { type: 'router', adminUrl, route: 'shop', tokenEnv: 'FERRY_ROUTER_TOKEN' } };
  shop.data = { provider: 'postgres', source: 'env:FERRY_DEMO_SOURCE_DB', target: 'env:FERRY_DEMO_TARGET_DB', copySchema: true, maxWritePause: '1s', maxLag: '1s' };
  return plan;
}

function sliceProvider(plan: MigrationPlan) {
  const shop = findSlice(plan, 'shop');
  const provider = shop.traffic?.provider;
  if (!provider || typeof provider === 'string') throw new FerryError('demo', 'shop slice has no router settings', { fix: 'this is a bug in the demo' });
  return provider;
}

function savePodLogs(lab: Lab, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const cluster of lab.clusters) {
    for (const pod of cluster.runtime?.list() ?? []) writeFileSync(join(dir, `${cluster.name}-${pod.namespace}-${pod.name}.log`), pod.logs());
  }
}

async function createAppRole(db: LocalPostgres, role: string, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  try {
    await client.query(`create role ${role} login password '${password}'`);
    await client.query(`grant all on schema public to ${role}`);
  } finally {
    await client.end();
  }
}

async function countOrders(db: LocalPostgres, ids: number[]): Promise<number> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  try {
    const result = await client.query<{ n: string }>('select count(*)::text as n from orders where id = any($1::bigint[])', [ids]);
    return Number(result.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
