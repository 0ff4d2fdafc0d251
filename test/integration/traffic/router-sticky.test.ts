import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startRouter, type Router } from '../../../src/traffic/proxy/server.js';
import { parseRouterConfig } from '../../../src/traffic/proxy/config.js';
import { seededRandom } from '../../../src/util/random.js';
import { startBackend, type BackendProcess } from './helpers.js';

// 10,000 users, each with its own cookie, send one request at every step of a 1→10→50→100
// ramp; the answering backend is read from the response. Nobody may go target → source.
const backends: BackendProcess[] = [];
let router: Router | undefined;
after(async () => {
  await router?.close();
  for (const backend of backends) await backend.kill();
});

async function sideOf(pool: Pool, headers: Record<string, string>): Promise<{ backend: string; setCookie: string | undefined }> {
  const response = await pool.request({ method: 'GET', path: '/', headers });
  const body = (await response.body.json()) as { backend: string };
  const setCookie = response.headers['set-cookie'];
  return { backend: body.backend, setCookie: Array.isArray(setCookie) ? setCookie[0] : setCookie };
}

test('10,000 sticky users across a 1→10→50→100 ramp: no user ever goes from target back to source', async () => {
  const source = await startBackend('source');
  const target = await startBackend('target');
  backends.push(source, target);
  router = await startRouter(
    parseRouterConfig({
      listen: '127.0.0.1:0',
      backends: { source: { url: source.url }, target: { url: target.url } },
      routes: [{ name: 'shop', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'cookie', name: 'ferry_user' } }],
    }),
    { admin: false, random: seededRandom(42) },
  );
  const pool = new Pool(router.url, { connections: 32 });
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const onTarget = new Set<string>();
  const movedBack: string[] = [];
  const shares: Record<number, number> = {};
  for (const step of [1, 10, 50, 100]) {
    router.setWeight('shop', step);
    let targetCount = 0;
    for (let start = 0; start < users.length; start += 64) {
      const batch = users.slice(start, start + 64);
      const sides = await Promise.all(batch.map((user) => sideOf(pool, { cookie: `theme=dark; ferry_user=${user}` })));
      sides.forEach(({ backend }, i) => {
        const user = batch[i]!;
        if (backend === 'target') {
          targetCount++;
          onTarget.add(user);
        } else if (onTarget.has(user)) movedBack.push(`${user} at ${step}%`);
      });
    }
    shares[step] = targetCount / users.length;
  }
  process.stdout.write(`# share of users on target per step: ${JSON.stringify(shares)}\n`);
  assert.deepEqual(movedBack, [], 'users moved from target back to source');
  for (const step of [1, 10, 50]) {
    const p = step / 100;
    assert.ok(Math.abs(shares[step]! - p) <= 4 * Math.sqrt((p * (1 - p)) / users.length), `share at ${step}% was ${shares[step]}`);
  }
  assert.equal(shares[100], 1);

  // A first-time visitor gets a cookie and then stays where that cookie hashes.
  router.setWeight('shop', 50);
  const first = await sideOf(pool, {});
  assert.match(first.setCookie ?? '', /^ferry_user=[0-9a-f]{16}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  const cookie = first.setCookie!.split(';')[0]!;
  for (let i = 0; i < 20; i++) assert.equal((await sideOf(pool, { cookie })).backend, first.backend);
  await pool.close();
});
