/**
 * An edge ramp with long-lived WebSocket connections open (issue #16, "What it must show"):
 * `ferry run` moves a chat service (the lab's `ferry.dev/echo`, pods as processes) from
 * `source` to `target` behind the embedded router while users hold connections through it.
 * Connections opened before the ramp stay on the source through every step and keep
 * echoing; connections opened during it stay on the side they were opened on; those opened at
 * 100 % go to the target; at decommission the source's pods close theirs with 1001 (going
 * away) and the users reconnect to the target, resending what was unanswered, as real
 * clients do. A message fails only if it was sent and never answered on a connection that
 * did not close with 1001.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, WebSocket } from 'undici';
import { stringify } from 'yaml';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import type { LabCluster } from '../../../src/lab/cluster.js';
import { ferryAsync, startFerry } from '../../helpers/cli.js';
import { startTestLab } from '../../helpers/lab.js';
import { driveLoad, startPrometheus } from '../analysis/helpers.js';
import { startRouterProcess } from '../traffic/helpers.js';

const NAMESPACE = 'live';
const SCRAPE_MS = 500;
const GOING_AWAY = 1001;
/** Each user sends one message every this often, at most MAX_MESSAGES in all. */
const MESSAGE_EVERY_MS = 100;
const MAX_MESSAGES = 600;

const manifests = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'chat', namespace: NAMESPACE, labels: { app: 'chat' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'chat' } },
      template: {
        metadata: { labels: { app: 'chat' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [{
            name: 'chat',
            image: 'ferry.dev/echo:v1',
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 },
          }],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'chat', namespace: NAMESPACE, labels: { app: 'chat' } },
    spec: { type: 'LoadBalancer', selector: { app: 'chat' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
  },
];

/**
 * A stable address for a cluster's `chat` LoadBalancer, as the DNS name a global load
 * balancer is given: the target's Service gets its address only when the run applies it, after
 * the router started. Plain TCP to whatever `status.loadBalancer.ingress[0]` says now.
 */
async function loadBalancerName(cluster: LabCluster): Promise<{ url: string; close(): Promise<void> }> {
  const client = new ControllerClient(cluster.service);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const service = client.get('v1', 'Service', NAMESPACE, 'chat') as any;
    const ip = service?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined;
    if (!ip) return void socket.destroy();
    const upstream = connect(Number(service.spec.ports[0].port), ip);
    sockets.add(upstream);
    upstream.once('close', () => (sockets.delete(upstream), socket.destroy()));
    upstream.on('error', () => upstream.destroy());
    socket.once('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Connection {
  opened: number;
  closedAt?: number;
  code?: number;
  answers: Array<{ id: string; cluster: string; pod: string; at: number }>;
}

/**
 * A chat user: one WebSocket at a time through the router, a message every
 * MESSAGE_EVERY_MS; on a close it reconnects, and after a 1001 it resends what that
 * connection left unanswered. Messages unanswered on any other close are failed.
 */
function chatUser(name: string, url: string) {
  const connections: Connection[] = [];
  const failed: string[] = [];
  const connectFailures: string[] = [];
  const resend: string[] = [];
  let pending = new Map<string, number>();
  let socket: WebSocket | undefined;
  let sent = 0;
  let resent = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let opened!: () => void;
  const firstOpen = new Promise<void>((resolve) => (opened = resolve));

  const open = (): void => {
    const ws = new WebSocket(url);
    const connection: Connection = { opened: 0, answers: [] };
    const mine = new Map<string, number>();
    let isOpen = false;
    ws.addEventListener('open', () => {
      isOpen = true;
      connection.opened = Date.now();
      connections.push(connection);
      socket = ws;
      pending = mine;
      opened();
      for (const id of resend.splice(0)) {
        resent++;
        send(id);
      }
    });
    ws.addEventListener('message', (event) => {
      const answer = JSON.parse(String(event.data)) as { message: string; cluster: string; pod: string };
      if (!mine.delete(answer.message)) return;
      connection.answers.push({ id: answer.message, cluster: answer.cluster, pod: answer.pod, at: Date.now() });
    });
    ws.addEventListener('close', (event) => {
      if (!isOpen) connectFailures.push(`${name}: connection refused or failed (${event.code})`);
      else {
        connection.closedAt = Date.now();
        connection.code = event.code;
        // A server going away (1001) is a reason to reconnect and resend; anything else lost them.
        if (event.code === GOING_AWAY) resend.push(...mine.keys());
        else failed.push(...[...mine.keys()].map((id) => `${id} (closed ${event.code})`));
        mine.clear();
      }
      if (socket === ws) socket = undefined;
      if (!stopping) setTimeout(open, 100);
    });
  };
  const send = (id: string): void => {
    pending.set(id, Date.now());
    socket!.send(id);
  };
  const tick = (): void => {
    if (stopping || sent >= MAX_MESSAGES) return;
    if (socket?.readyState !== WebSocket.OPEN) return;
    send(`${name}#${sent++}`);
  };

  return {
    name,
    connections,
    failed,
    connectFailures,
    resent: () => resent,
    async start(): Promise<void> {
      open();
      timer = setInterval(tick, MESSAGE_EVERY_MS);
      await Promise.race([firstOpen, new Promise((_, reject) => setTimeout(() => reject(new Error(`${name}: no connection in 10 s`)), 10_000))]);
    },
    /** Stops sending, waits (bounded) for the answers still due, closes normally. */
    async stop(waitMs = 5_000): Promise<number> {
      stopping = true;
      clearInterval(timer);
      const deadline = Date.now() + waitMs;
      while ((pending.size > 0 || resend.length > 0) && Date.now() < deadline) await sleep(50);
      failed.push(...[...pending.keys(), ...resend].map((id) => `${id} (never answered)`));
      socket?.close(1000);
      return sent;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${context()}`);
    await sleep(50);
  }
}

test('an edge ramp with long-lived WebSocket connections: they stay on their side through every step, the source closes them with 1001 at decommission, users reconnect to the target; 0 failed messages', { timeout: 240_000 }, async () => {
  const started = Date.now();
  const lab = await startTestLab(['source', 'target'], 'processes');
  const stops: Array<() => Promise<unknown>> = [() => lab.stop()];
  try {
    const file = join(lab.dir, 'chat.yaml');
    writeFileSync(file, manifests.map((object) => stringify(object)).join('---\n'));
    const applied = await lab.kubectl(['apply', '--server-side', '--field-manager', 'team-ci', '-f', file], 'source');
    assert.equal(applied.code, 0, applied.stderr);
    const ready = await lab.kubectl(['rollout', 'status', 'deployment/chat', '-n', NAMESPACE, '--timeout=60s'], 'source');
    assert.equal(ready.code, 0, ready.stderr);

    const [source, target] = await Promise.all(lab.clusters.map((cluster) => loadBalancerName(cluster)));
    stops.unshift(() => source!.close(), () => target!.close());
    const router = await startRouterProcess({
      backends: { 'old-cluster': { url: source!.url }, 'new-cluster': { url: target!.url } },
      routes: [{ name: 'chat', match: { pathPrefix: '/' }, source: 'old-cluster', target: 'new-cluster', weight: 0 }],
    });
    stops.unshift(() => router.stop());
    const prometheus = await startPrometheus(new URL(router.adminUrl).host, SCRAPE_MS);
    stops.unshift(() => prometheus.stop());
    const wsUrl = `${router.url.replace('http:', 'ws:')}/chat`;
    const weight = async (): Promise<number> => ((await (await fetch(`${router.adminUrl}/routes/chat`)).json()) as { weights: { target: number } }).weights.target;

    const planned = await ferryAsync(['plan', '--from', 'source', '--to', 'target', '--kubeconfig', lab.kubeconfigFile, '--name', 'chat-ramp', '-o', 'json']);
    assert.equal(planned.code, 0, planned.stderr);
    const plan = JSON.parse(planned.stdout);
    const slice = plan.spec.waves.flatMap((wave: any) => wave.slices).find((s: any) => s.name === 'chat');
    assert.ok(slice, `no chat slice in ${planned.stdout.slice(0, 400)}`);
    plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], traffic: { provider: { type: 'router', adminUrl: router.adminUrl, route: 'chat' } } }] }];
    plan.spec.metrics = { provider: 'prometheus', url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` };
    plan.spec.defaults.traffic.steps = [50, 100];
    plan.spec.defaults.traffic.stepWindow = '2s';
    plan.spec.defaults.traffic.mirror = { percent: 0 };
    plan.spec.defaults.gates.minRequests = 10;
    plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
    plan.spec.defaults.decommission.after = '0s';
    // The chat's users are on the source until the decommission closes their connections:
    // that is what this test is about, so the idle check (telemetry of calls) is not asked.
    plan.spec.defaults.decommission.requireIdle = false;
    plan.spec.defaults.rollback.keepSourceFor = '0s';
    const planFile = join(lab.dir, 'chat-ramp.json');
    writeFileSync(planFile, JSON.stringify(plan));

    // Users hold connections from before the ramp; plain HTTP users beside them give the judge requests.
    const everyone: Array<ReturnType<typeof chatUser>> = [];
    let httpStopped = false;
    stops.unshift(async () => {
      httpStopped = true;
      await Promise.all(everyone.map((user) => user.stop(0)));
    });
    const early = Array.from({ length: 4 }, (_, i) => chatUser(`early-${i}`, wsUrl));
    everyone.push(...early);
    await Promise.all(early.map((user) => user.start()));
    const pool = new Pool(router.url, { connections: 4 });
    stops.unshift(() => pool.close());
    const httpFailures: string[] = [];
    let httpIndex = 0;
    const httpLoad = driveLoad(async () => {
      const response = await pool.request({ method: 'GET', path: '/', headers: { 'x-user': `user-${httpIndex++ % 31}` } });
      const body = await response.body.text();
      if (response.statusCode >= 500) httpFailures.push(`${response.statusCode} ${body.slice(0, 100)}`);
      return response.statusCode;
    }, 20, 120_000, () => httpStopped);

    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-ws-ramp-'));
    const run = startFerry(['run', planFile, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir, '-o', 'json'], { FERRY_ROUTER_TOKEN: router.token });
    stops.unshift(async () => {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    });
    // Users who connect mid-ramp, and at 100 %.
    const runOutput = () => `ferry run: ${run.stderr.slice(-2000)}`;
    await waitFor('weight 50', async () => ((await weight()) === 50 ? true : undefined), 60_000, runOutput);
    const mid = Array.from({ length: 4 }, (_, i) => chatUser(`mid-${i}`, wsUrl));
    everyone.push(...mid);
    await Promise.all(mid.map((user) => user.start()));
    await waitFor('weight 100', async () => ((await weight()) === 100 ? true : undefined), 60_000, runOutput);
    const late = Array.from({ length: 3 }, (_, i) => chatUser(`late-${i}`, wsUrl));
    everyone.push(...late);
    await Promise.all(late.map((user) => user.start()));

    const code = await run.closed;
    assert.equal(code, 0, run.stderr.slice(-3000));
    const state = JSON.parse(run.stdout);
    assert.equal(state.status, 'completed');
    // Every user whose connection the source closed is back on the target (bounded wait).
    await waitFor('early users reconnected', () => (early.every((user) => user.connections.length >= 2) ? true : undefined), 10_000);
    await sleep(1_000);
    const users = [...early, ...mid, ...late];
    const sent = await Promise.all(users.map((user) => user.stop()));
    httpStopped = true;
    const http = await httpLoad;

    const journal = readFileSync(join(stateDir, 'runs', state.id, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const weights = journal.filter((record) => record.type === 'weight-set' && record.data.slice === 'chat');
    assert.deepEqual(weights.map((record) => record.data.weight), [50, 100]);
    const [at50, at100] = weights.map((record) => Date.parse(record.at)) as [number, number];
    const decommissioned = Date.parse(journal.find((record) => record.type === 'stage-started' && record.data.stage === 'decommission')?.at);

    const clusters = (connection: Connection) => [...new Set(connection.answers.map((answer) => answer.cluster))];
    for (const user of early) {
      const [first, ...after] = user.connections;
      assert.deepEqual(clusters(first!), ['source'], `${user.name}: its first connection stayed on the source`);
      // It kept echoing through every step: answers after 50 % and after 100 % were set.
      assert.ok(first!.answers.some((answer) => answer.at > at50 + 200 && answer.at < at100), `${user.name}: answered at 50 %`);
      assert.ok(first!.answers.some((answer) => answer.at > at100 + 200), `${user.name}: answered at 100 %`);
      assert.equal(first!.code, GOING_AWAY, `${user.name}: the source closed it with 1001`);
      assert.ok(first!.closedAt! >= decommissioned, `${user.name}: closed at decommission, not before`);
      assert.ok(after.length >= 1 && after.every((connection) => clusters(connection).every((cluster) => cluster === 'target')), `${user.name}: reconnected to the target`);
      assert.ok(after[0]!.answers.length > 0, `${user.name}: its reconnection answered`);
    }
    for (const user of mid) {
      for (const connection of user.connections) {
        assert.ok(clusters(connection).length <= 1, `${user.name}: a connection stayed on one side: ${clusters(connection)}`);
      }
    }
    const midSides = mid.map((user) => clusters(user.connections[0]!)[0]);
    // Whoever the source served was closed with 1001 at decommission and ended on the target.
    for (const user of [...early, ...mid]) {
      for (const connection of user.connections.filter((c) => clusters(c).includes('source'))) {
        assert.equal(connection.code, GOING_AWAY, `${user.name}: a source connection ended with 1001`);
        assert.ok(connection.closedAt! >= decommissioned, `${user.name}: closed at decommission, not before`);
      }
      assert.deepEqual(clusters(user.connections.at(-1)!), ['target'], `${user.name}: ends on the target`);
    }
    for (const user of late) {
      assert.equal(user.connections.length, 1, `${user.name}: one connection, never closed by a server`);
      assert.deepEqual(clusters(user.connections[0]!), ['target'], `${user.name}: opened at 100 %, served by the target`);
    }
    const failed = users.flatMap((user) => user.failed);
    const connectFailures = users.flatMap((user) => user.connectFailures);
    const answered = users.reduce((sum, user) => sum + user.connections.reduce((n, connection) => n + connection.answers.length, 0), 0);
    const totalSent = sent.reduce((a, b) => a + b, 0);
    const resent = users.reduce((sum, user) => sum + user.resent(), 0);
    assert.deepEqual(failed, [], 'failed messages');
    assert.deepEqual(connectFailures, [], 'failed connection attempts');
    assert.equal(answered, totalSent, 'every message answered exactly once');
    assert.deepEqual(httpFailures, [], 'failed HTTP requests');

    // The source serves nobody after the decommission; the router saw no WebSocket left open there.
    const deployment = JSON.parse((await lab.kubectl(['get', 'deploy', 'chat', '-n', NAMESPACE, '-o', 'json'], 'source')).stdout);
    assert.equal(deployment.spec.replicas, 0);
    const snapshot = (await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: Array<{ role: string; websockets?: { opened: number; open: number } }> };
    const onSource = snapshot.backends.find((backend) => backend.role === 'source')?.websockets;
    assert.equal(onSource?.open, 0, 'no WebSocket left open on the source');
    const closes = early.map((user) => user.connections[0]!.closedAt! - decommissioned);
    console.log(`websocket ramp: ${users.length} users, ${totalSent} messages (${resent} resent after 1001; ${users.reduce((n, user) => n + user.connections.length - 1, 0)} reconnections), 0 failed; ` +
      `mid-ramp connections on ${JSON.stringify(midSides)}; ${http.requests} HTTP requests; 1001 closes ${Math.min(...closes)}–${Math.max(...closes)} ms after decommission started; ` +
      `router websockets ${JSON.stringify(snapshot.backends.map((backend) => [backend.role, backend.websockets]))}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
});
