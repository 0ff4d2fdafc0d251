import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { sleep } from '../run/ramp-helpers.js';
import { startBackend, startRouterProcess, type BackendProcess, type RouterProcess } from './helpers.js';

// `ferry router --workers 2`: two processes serve requests from one route table. A weight
// flipped under load through the admin API must be in force in both workers by the time the
// call answers, and /metrics must count every request whichever worker served it.
const started: Array<BackendProcess | RouterProcess> = [];
after(async () => {
  for (const item of started.reverse()) await ('stop' in item ? item.stop() : item.kill());
});

interface Sent {
  at: number;
  backend?: string;
  /** performance.now() when the answer was in. */
  doneAt?: number;
  failure?: string;
}

/** Open-loop GETs at `rate`/s until `stop()` (bounded by `max` requests); each records when it left and who answered. */
function load(url: string, rate: number, max: number): { sent: Sent[]; stop(): Promise<void> } {
  const pool = new Pool(url, { connections: 16 });
  const sent: Sent[] = [];
  const inFlight: Array<Promise<void>> = [];
  const begin = performance.now();
  let stopped = false;
  const tick = (): void => {
    while (!stopped && sent.length < max && begin + (sent.length * 1000) / rate <= performance.now()) {
      const entry: Sent = { at: performance.now() };
      sent.push(entry);
      inFlight.push(
        pool.request({ method: 'GET', path: `/shop/${sent.length}`, headersTimeout: 5000, bodyTimeout: 5000 }).then(
          async (response) => {
            const text = await response.body.text();
            if (response.statusCode !== 200) entry.failure = `status ${response.statusCode}`;
            else {
              entry.backend = (JSON.parse(text) as { backend: string }).backend;
              entry.doneAt = performance.now();
            }
          },
          (error: NodeJS.ErrnoException) => void (entry.failure = error.code ?? error.message),
        ),
      );
    }
    if (!stopped && sent.length < max) timer = setTimeout(tick, 1);
  };
  let timer = setTimeout(tick, 1);
  return {
    sent,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(inFlight);
      await pool.close();
    },
  };
}

async function setWeight(router: RouterProcess, target: number): Promise<void> {
  const response = await fetch(`${router.adminUrl}/routes/shop/weight`, { method: 'PUT', headers: { authorization: `Bearer ${router.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target }) });
  assert.equal(response.status, 200, await response.text());
  await response.arrayBuffer().catch(() => undefined);
}

/** Process ids of the router's workers (children of the primary). */
function workerPids(router: RouterProcess): number[] {
  const pid = router.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Which processes hold the accepted connections on the router's port (ss -p). */
function acceptingPids(router: RouterProcess): Set<number> {
  const port = new URL(router.url).port;
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])));
}

async function requestsCounted(router: RouterProcess): Promise<number> {
  const text = await (await fetch(`${router.adminUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('ferry_router_requests_total{') && line.includes('route="shop"')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

/** Two backends that say which side answered, behind a router on two workers with one route, `shop`. */
async function startShopRouter(weight: number, stickiness: Record<string, string>): Promise<RouterProcess> {
  const source = await startBackend('source');
  const target = await startBackend('target');
  started.push(source, target);
  const router = await startRouterProcess(
    { backends: { source: { url: source.url }, target: { url: target.url } }, routes: [{ name: 'shop', source: 'source', target: 'target', weight, stickiness }] },
    undefined,
    ['--workers', '2'],
  );
  started.push(router);
  return router;
}

test('two workers: a weight flipped under load is in force in every worker when the admin call returns, and /metrics counts every request', async () => {
  const router = await startShopRouter(0, { mode: 'none' });
  const workers = workerPids(router);
  assert.equal(workers.length, 2, `worker processes: ${workers.join(', ')}`);

  // 400 req/s for about 5 s over 16 connections; four flips 0→100→0→100→0, each call timed.
  const traffic = load(router.url, 400, 2400);
  const flips: Array<{ weight: number; calledAt: number; returnedAt: number }> = [];
  let seenAccepting = new Set<number>();
  for (const weight of [100, 0, 100, 0]) {
    await sleep(1000);
    seenAccepting = new Set([...seenAccepting, ...acceptingPids(router)]);
    const calledAt = performance.now();
    await setWeight(router, weight);
    flips.push({ weight, calledAt, returnedAt: performance.now() });
  }
  await sleep(800);
  await traffic.stop();

  const failed = traffic.sent.filter((entry) => entry.failure !== undefined);
  // A request is judged by the last change that had returned when it left: it must be routed
  // by that weight, or by a later one whose call began before the answer was in (a request can
  // wait in a queue past the next change). Those that left while a call was in flight may go either way.
  const sideOf = (weight: number): string => (weight === 100 ? 'target' : 'source');
  const wrong = traffic.sent.filter((entry) => {
    const last = flips.filter((flip) => flip.calledAt <= entry.at).at(-1);
    if (!last || entry.at < last.returnedAt || entry.backend === undefined) return false;
    const allowed = [last, ...flips.filter((flip) => flip.calledAt > entry.at && flip.calledAt <= entry.doneAt!)].map((flip) => sideOf(flip.weight));
    return !allowed.includes(entry.backend);
  });
  const describe = (entry: Sent) => {
    const last = flips.filter((flip) => flip.calledAt <= entry.at).at(-1)!;
    return `${entry.backend} left ${(entry.at - last.returnedAt).toFixed(1)} ms, answered ${(entry.doneAt! - last.returnedAt).toFixed(1)} ms after change ${flips.indexOf(last) + 1} returned`;
  };
  const bySide = (name: string) => traffic.sent.filter((entry) => entry.backend === name).length;
  const counted = await requestsCounted(router);
  process.stdout.write(
    `# ${traffic.sent.length} requests (source ${bySide('source')}, target ${bySide('target')}), failed ${failed.length}, routed by an old weight ${wrong.length} (per change: ${flips.map((flip, i) => wrong.filter((entry) => describe(entry).endsWith(`change ${i + 1} returned`)).length).join('/')}); ` +
      `admin calls took ${flips.map((flip) => (flip.returnedAt - flip.calledAt).toFixed(1)).join(', ')} ms; connections accepted by workers ${[...seenAccepting].join(', ')} of ${workers.join(', ')}; /metrics counts ${counted}\n`,
  );
  assert.ok(traffic.sent.length >= 1500, `only ${traffic.sent.length} requests were sent`);
  assert.deepEqual(failed.map((entry) => entry.failure), []);
  assert.deepEqual(wrong.slice(0, 10).map(describe), [], 'requests that left after the admin call returned were routed by the old weight');
  assert.ok(bySide('source') > 0 && bySide('target') > 0);
  for (const pid of workers) assert.ok(seenAccepting.has(pid), `worker ${pid} served none of the connections (${[...seenAccepting].join(', ')})`);
  assert.equal(counted, traffic.sent.length, '/metrics sums the requests of both workers');
  const json = (await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: Array<{ route: string; requests: number; latency: { count: number } }> };
  assert.equal(json.backends.reduce((sum, backend) => sum + backend.requests, 0), traffic.sent.length, '/metrics.json sums both workers too');
  assert.equal(json.backends.reduce((sum, backend) => sum + backend.latency.count, 0), traffic.sent.length);
});

test('two workers: a worker that dies is replaced and starts with the weight the admin API set', async () => {
  const router = await startShopRouter(0, { mode: 'none' });
  await setWeight(router, 100);
  const [victim, survivor] = workerPids(router);
  process.kill(victim!, 'SIGKILL');
  const deadline = Date.now() + 20_000;
  let now = workerPids(router);
  while (!(now.length === 2 && !now.includes(victim!)) && Date.now() < deadline) {
    await sleep(100);
    now = workerPids(router);
  }
  assert.equal(now.length, 2, `workers after the kill: ${now.join(', ')}`);
  assert.ok(now.includes(survivor!));
  const replacement = now.find((pid) => pid !== survivor)!;
  // The survivor paused, the replacement alone accepts: everything it answers must come from the target.
  await sleep(500);
  process.kill(survivor!, 'SIGSTOP');
  const answers: string[] = [];
  const accepted = new Set<number>();
  try {
    const pool = new Pool(router.url, { connections: 4 });
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.request({ method: 'GET', path: `/shop/after/${i}`, headersTimeout: 5000 })));
    for (const pid of acceptingPids(router)) accepted.add(pid);
    for (const response of responses) answers.push((JSON.parse(await response.body.text()) as { backend: string }).backend);
    await pool.close();
  } finally {
    process.kill(survivor!, 'SIGCONT');
  }
  const routes = (await (await fetch(`${router.adminUrl}/routes/shop`)).json()) as { weights: { target: number } };
  process.stdout.write(`# replacement ${replacement} for ${victim}; ${answers.length} answers after the kill: ${new Set(answers).size === 1 ? `all ${answers[0]}` : answers.join(',')}; accepted by ${[...accepted].join(', ')}\n`);
  assert.equal(routes.weights.target, 100);
  assert.ok(accepted.has(replacement), 'the replacement worker serves connections');
  assert.deepEqual([...new Set(answers)], ['target']);

  // SIGTERM to the primary stops the workers too.
  const before = workerPids(router);
  await router.stop();
  assert.deepEqual(before.filter((pid) => existsSync(`/proc/${pid}`)), [], 'workers left running after the router stopped');
});

test('two workers: a user is on the same side whichever worker serves them', async () => {
  const router = await startShopRouter(50, { mode: 'cookie', name: 'ferry_user' });
  const workers = workerPids(router);
  assert.equal(workers.length, 2);
  const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
  /** Each user's side, asked with only `serving` accepting connections (the other paused). */
  const sidesThrough = async (serving: number): Promise<string[]> => {
    const paused = workers.find((pid) => pid !== serving)!;
    process.kill(paused, 'SIGSTOP');
    try {
      const pool = new Pool(router.url, { connections: 4 });
      const sides = await Promise.all(
        users.map(async (user) => {
          const response = await pool.request({ method: 'GET', path: '/shop/sticky', headers: { cookie: `ferry_user=${user}` }, headersTimeout: 5000 });
          return (JSON.parse(await response.body.text()) as { backend: string }).backend;
        }),
      );
      const accepted = acceptingPids(router);
      await pool.close();
      assert.deepEqual([...accepted], [serving], 'only the unpaused worker accepted');
      return sides;
    } finally {
      process.kill(paused, 'SIGCONT');
    }
  };
  const first = await sidesThrough(workers[0]!);
  const second = await sidesThrough(workers[1]!);
  process.stdout.write(`# ${users.length} users at 50 %: ${first.filter((side) => side === 'target').length} on the target through worker ${workers[0]}, ${second.filter((side) => side === 'target').length} through worker ${workers[1]}\n`);
  assert.deepEqual(second, first);
  assert.ok(first.includes('source') && first.includes('target'));
});
