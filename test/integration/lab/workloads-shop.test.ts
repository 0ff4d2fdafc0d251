import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPodRuntime, type RunningPod } from '../../../src/lab/runtime.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { pod, waitFor } from './workloads-helpers.js';

let postgres: LocalPostgres | undefined;
const runtime = createPodRuntime({ cluster: 'source', timeScale: 0.1 });
let shop: RunningPod;

before(async () => {
  postgres = await startLocalPostgres({ name: 'ferry-shop-test' });
  shop = await runtime.start(
    pod(
      {
        containers: [
          {
            name: 'shop',
            image: 'ferry.dev/shop:v1',
            ports: [{ name: 'http', containerPort: 8080 }],
            env: [{ name: 'DATABASE_URL', value: postgres.connectionString }],
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 20, periodSeconds: 1 },
          },
        ],
      },
      { labels: { app: 'shop' } },
    ),
  );
});
after(async () => {
  await runtime.stopAll();
  await postgres?.stop();
});

test('the shop writes an order, answers only after commit, and reads it back from PostgreSQL', async () => {
  await waitFor('the shop ready (schema created)', () => shop.ready, 30_000);
  const base = `http://127.0.0.1:${shop.hostPort('http')}`;
  const products = (await (await fetch(`${base}/products`)).json()) as Array<{ id: string; sku: string; priceCents: number }>;
  const mug = products.find((p) => p.sku === 'MUG-01');
  assert.ok(mug);
  const created = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
    body: JSON.stringify({ sku: 'MUG-01', quantity: 3, customer: 'ada' }),
  });
  assert.equal(created.status, 201);
  const order = (await created.json()) as { id: string; quantity: number; totalCents: string };
  assert.equal(order.totalCents, String(mug.priceCents * 3));

  // The row is in the database itself, visible to another connection: it was committed.
  const client = new pg.Client({ connectionString: postgres?.connectionString });
  await client.connect();
  try {
    const rows = await client.query('SELECT quantity, customer FROM orders WHERE id = $1', [order.id]);
    assert.deepEqual(rows.rows, [{ quantity: 3, customer: 'ada' }]);
  } finally {
    await client.end();
  }
  const read = await fetch(`${base}/orders/${order.id}`);
  assert.equal(read.status, 200);
  assert.equal(((await read.json()) as { quantity: number }).quantity, 3);

  const retried = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
    body: JSON.stringify({ sku: 'MUG-01', quantity: 3 }),
  });
  assert.equal(retried.status, 200);
  assert.equal(((await retried.json()) as { id: string }).id, order.id, 'a retry with the same key returns the same order');
  assert.equal((await fetch(`${base}/orders/999999`)).status, 404);
  assert.equal((await fetch(`${base}/orders`, { method: 'POST', body: '{"quantity":0,"sku":"MUG-01"}' })).status, 400);
});

test('the shop turns unready when its database goes away', async () => {
  await waitFor('ready', () => shop.ready, 30_000);
  await postgres?.stop();
  postgres = undefined;
  await waitFor('unready without a database', () => !shop.ready, 15_000);
  assert.equal(shop.status().containers[0]?.state, 'running');
});
