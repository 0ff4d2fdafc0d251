import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyObjects } from '../apply/apply.js';
import { startEndpointService, type EndpointService } from '../data/endpoint-admin.js';
import { startLocalPostgres, type LocalPostgres } from '../data/postgres/local-server.js';
import { inventoryFromCluster } from '../inventory/load.js';
import { readJournal } from '../journal/journal.js';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { startLab, type Lab } from '../lab/cluster.js';
import { startLabPrometheus } from '../lab/prometheus.js';
import { generatePlan } from '../plan/generate.js';
import { parsePlan } from '../plan/load.js';
import type { MigrationPlan } from '../plan/schema.js';
import { startRun } from '../run/drive.js';
import { startRouter, type Router } from '../traffic/proxy/server.js';
import { routerConfigSchema } from '../traffic/proxy/config.js';
import { FerryError } from '../util/errors.js';
import { toYamlText } from '../util/output.js';
import { startLoad, type RunningLoad } from './load.js';
import { buildScorecard, type Scorecard } from './scorecard.js';
import { buildRunReport } from '../report/build.js';
import { renderReportHtml } from '../report/html.js';
import { SHOP_HOST, shopManifests } from './shop.js';
import { BOUTIQUE_HOST, boutiqueManifests, startCallLoad, waveCrossings, type CallLoad } from './boutique.js';

export interface DemoOptions {
  /** Where the demo keeps its kubeconfig, plan and run journal. */
  dir?: string;
  /** Customer requests per second during the migration. */
  rate?: number;
  onProgress?: (message: string) => void;
}

const SCRAPE_MS = 500;

/**
 * `ferry demo`: the stage a platform team would set up — two lab clusters, a shop on
 * PostgreSQL and an eleven-service application whose services call each other, serving
 * customers on the source through the embedded router, a database endpoint the shop connects
 * through, Prometheus scraping the router and both clusters' service networking — then a plan written
 * to a file and run by `ferry run`'s own library call (`startRun`). No stage is wired here:
 * the demo only starts things and reads the journal and the load generator for its scorecard.
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
  let calls: CallLoad | undefined;
  try {
    say('starting two lab clusters (source, target) with pods as local processes, service networking and a mesh');
    const lab: Lab = await startLab({ clusters: ['source', 'target'], pods: 'processes', mesh: true });
    cleanups.push(() => lab.stop());
    // Pod output is kept beside the journal: what a rehearsal's applications said is evidence too.
    cleanups.push(async () => savePodLogs(lab, join(dir, 'logs')));
    const kubeconfigFile = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigFile, lab.kubeconfig, { mode: 0o600 });
    const [source, target] = lab.clusters as [Lab['clusters'][0], Lab['clusters'][0]];

    say('starting PostgreSQL 15 for each side and the shop\'s database endpoint');
    const [sourceDb, targetDb] = await Promise.all([startLocalPostgres({ name: 'ferry-demo-source' }), startLocalPostgres({ name: 'ferry-demo-target' })]);
    cleanups.push(() => sourceDb.stop(), () => targetDb.stop());
    const endpointToken = randomBytes(16).toString('hex');
    const endpoint: EndpointService = await startEndpointService({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      sides: { source: { host: sourceDb.host, port: sourceDb.port }, target: { host: targetDb.host, port: targetDb.port } },
      token: endpointToken,
    });
    cleanups.push(() => endpoint.close());
    // The application's own role exists on both sides with the same password, as it must in
    // production for the endpoint switch to be invisible to the application.
    const appPassword = randomBytes(12).toString('hex');
    await Promise.all([sourceDb, targetDb].map((db) => createAppRole(db, 'shop', appPassword)));
    const shopUrl = `postgresql://shop:${appPassword}@${endpoint.listen.host}:${endpoint.listen.port}/${sourceDb.database}`;

    say('deploying the shop and the eleven-service boutique on the source cluster');
    // As the teams' CI would: their own field managers, then wait for the rollouts.
    const sourceClient = new KubeClient(loadKubeConfig({ kubeconfig: kubeconfigFile, context: 'source' }));
    cleanups.push(async () => sourceClient.close());
    await Promise.all([
      applyObjects(sourceClient, shopManifests(shopUrl), { fieldManager: 'team-shop-ci', readyTimeoutMs: 60_000 }),
      applyObjects(sourceClient, boutiqueManifests(), { fieldManager: 'team-boutique-ci', readyTimeoutMs: 120_000 }),
    ]);

    say('starting the embedded router in front of both clusters, Prometheus, and customers');
    const routerToken = randomBytes(16).toString('hex');
    const router: Router = await startRouter(routerConfigSchema.parse({
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0' },
      backends: { 'source-ingress': { url: source.ingress!.url }, 'target-ingress': { url: target.ingress!.url } },
      // One route per edge slice, named after it (as `ferry plan --traffic router` expects).
      routes: [
        { name: 'shop', match: { host: SHOP_HOST }, source: 'source-ingress', target: 'target-ingress', weight: 0 },
        { name: 'frontend', match: { host: BOUTIQUE_HOST }, source: 'source-ingress', target: 'target-ingress', weight: 0 },
      ],
    }), { adminToken: routerToken });
    cleanups.push(() => router.close());
    // The router's series judge the edge ramps; each cluster's service networking (Istio-shaped) the internal ones and the idle checks.
    const networkJob = (cluster: typeof source) => {
      const url = new URL(cluster.network!.metricsUrl);
      return { job: `lab-network-${cluster.name}`, targets: [url.host], metricsPath: url.pathname };
    };
    const prometheus = await startLabPrometheus([{ job: 'ferry-router', targets: [new URL(router.adminUrl!).host] }, networkJob(source), networkJob(target)], SCRAPE_MS);
    cleanups.push(() => prometheus.stop());
    load = startLoad({ url: router.url, host: SHOP_HOST, ratePerSecond: options.rate ?? 100, writeShare: 0.25, users: 500, maxSeconds: 600, maxRequests: 120_000 });
    // Each boutique request is seventeen calls between eleven services: a few per second is plenty on a laptop.
    calls = startCallLoad({ url: router.url, host: BOUTIQUE_HOST, ratePerSecond: 4, maxSeconds: 600, maxRequests: 20_000 });

    say('planning the migration from the live source cluster');
    const sourceInventory = await inventoryFromCluster({ kubeconfig: kubeconfigFile, context: 'source' });
    const planFile = join(dir, 'plan.yaml');
    const planText = toYamlText(demoPlan(sourceInventory, kubeconfigFile, router.adminUrl!, prometheus.url, endpoint.adminUrl));
    writeFileSync(planFile, planText);
    // Read back from the file's text, as `ferry run plan.yaml` would.
    const { plan, positionOf } = parsePlan(planText, planFile);

    // Secrets reach the run as a user's would: environment variables the plan names.
    const env = { ...process.env, FERRY_ROUTER_TOKEN: routerToken, FERRY_ENDPOINT_TOKEN: endpointToken, FERRY_DEMO_SOURCE_DB: sourceDb.connectionString, FERRY_DEMO_TARGET_DB: targetDb.connectionString };
    const startedAt = Date.now();
    const result = await startRun(plan, {
      stateDir: join(dir, 'state'),
      planFile,
      positionOf,
      env,
      onStarted: (files) => say(`ferry run ${planFile}: run ${files.id}, journal ${files.journal}`),
      onProgress: ({ slice, stage, detail }) => say(`${slice}: ${stage}${detail ? ` ${detail}` : ''}`),
    });
    const finishedAt = Date.now();
    // Customers keep coming for a moment after the last stage, now all on the target.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const loadResult = await load.stop();
    load = undefined;
    const answers = await calls.stop();
    calls = undefined;
    const acked = loadResult.acknowledgedOrders;
    const found = await countOrders(targetDb, acked);
    const journal = readJournal(result.files.journal);
    const report = buildRunReport({ runId: result.files.id, plan, records: journal.records, verify: journal.verify });
    const reportFile = join(dir, 'report.html');
    writeFileSync(reportFile, renderReportHtml(report));
    return buildScorecard({
      run: result.files.id, dir, planFile, journalFile: result.files.journal, reportFile,
      report,
      load: loadResult, acknowledgedOrders: acked.length, ordersFoundOnTarget: found,
      calls: { answers, waves: waveCrossings(plan, journal.records, answers) },
      durationMs: finishedAt - startedAt, error: result.error?.oneLine(),
    });
  } finally {
    if (load) await load.stop().catch(() => undefined);
    if (calls) await calls.stop().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/**
 * The plan `ferry plan --traffic router --router-admin-url … --prometheus …` writes for the
 * shop, tuned for a rehearsal of a minute: short windows, the shop's data section, and how
 * the shop reaches its database (the endpoint).
 */
function demoPlan(inventory: Awaited<ReturnType<typeof inventoryFromCluster>>, kubeconfig: string, routerAdminUrl: string, prometheusUrl: string, endpointAdminUrl: string): MigrationPlan {
  const plan = generatePlan(inventory.objects, {
    name: 'shop-demo',
    source: { context: 'source', kubeconfig },
    target: { context: 'target', kubeconfig },
    steps: [5, 25, 50, 100],
    stepWindow: '4s',
    traffic: { kind: 'router', router: { adminUrl: routerAdminUrl, tokenEnv: 'FERRY_ROUTER_TOKEN' } },
    internalRamps: { kind: 'istio' },
    metrics: { url: prometheusUrl, scrapeInterval: `${SCRAPE_MS}ms` },
  });
  const defaults = plan.spec.defaults;
  defaults.traffic.mirror = { percent: 25, duration: '5s', allowNonIdempotent: false, ignoreJsonPaths: ['$.stock', '$.createdAt'] };
  defaults.traffic.stickiness = { cookie: 'ferry-user' };
  defaults.analysis = { ...defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
  // Both lab clusters share this one machine: at 100 % the target's two shop processes take all
  // the load the source's shared with it, beside eleven more services, on the same cores — a
  // judge comparing p99 then measures the laptop, not the migration (suite runs: target ×2–×5
  // the source's p99 with no error). The rehearsal judges errors strictly and drops the latency
  // gate; on real clusters keep the generated one (latency judging: test/integration/analysis).
  delete defaults.gates.latency;
  defaults.decommission = { ...defaults.decommission, after: '2s' };
  defaults.rollback = { ...defaults.rollback, keepSourceFor: '0s' };
  // Both lab clusters publish an east-west gateway: calls between the boutique's services cross on endpoints bridges.
  plan.spec.bridges = { provider: 'endpoints' };
  // The boutique's internal ramps take two steps each: a rehearsal, not a production canary.
  // Its answers name the cluster and pod of every hop, so mirrored answers always differ: no shadow for its frontend.
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    const provider = slice.traffic?.provider;
    if (typeof provider === 'object' && provider.type === 'istio') slice.traffic = { ...slice.traffic!, steps: [50, 100] };
    if (slice.name === 'frontend') slice.traffic = { ...slice.traffic!, mirror: { percent: 0, allowNonIdempotent: false, ignoreJsonPaths: [] } };
  }
  const shop = plan.spec.waves.flatMap((wave) => wave.slices).find((slice) => slice.name === 'shop');
  if (!shop) throw new FerryError('demo', 'the plan has no shop slice', { fix: 'this is a bug in the demo' });
  shop.owner = 'team-shop';
  shop.data = {
    provider: 'postgres', source: 'env:FERRY_DEMO_SOURCE_DB', target: 'env:FERRY_DEMO_TARGET_DB', copySchema: true, maxWritePause: '1s', maxLag: '1s',
    clientAccess: { type: 'endpoint', adminUrl: endpointAdminUrl, tokenEnv: 'FERRY_ENDPOINT_TOKEN' },
  };
  return plan;
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
