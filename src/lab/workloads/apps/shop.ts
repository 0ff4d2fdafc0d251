/**
 * `ferry.dev/shop`: a small shop API on PostgreSQL (DATABASE_URL), the data slice of the
 * lab and the demo. Every write is answered only after its transaction has committed, so a
 * 201 means the order is durable in the database a migration must carry over.
 *
 *   GET  /products              list products
 *   GET  /products/:id          one product
 *   POST /orders                {productId | sku, quantity, customer?} → 201 order
 *                               (header idempotency-key: a retry returns the same order)
 *   GET  /orders/:id            one order, 404 when absent
 *   GET  /orders?limit=N        latest orders
 *   GET  /healthz, /readyz      process alive; database reachable and schema in place
 */
import pg from 'pg';
import { serveApp, sendJson } from './serve.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS products (
  id bigserial PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  stock integer NOT NULL DEFAULT 1000000
);
CREATE TABLE IF NOT EXISTS orders (
  id bigserial PRIMARY KEY,
  product_id bigint NOT NULL REFERENCES products(id),
  quantity integer NOT NULL CHECK (quantity > 0),
  total_cents bigint NOT NULL,
  customer text,
  idempotency_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO products (sku, name, price_cents) VALUES
  ('MUG-01', 'Ferry mug', 1200),
  ('TEE-01', 'Ferry t-shirt', 2500),
  ('CAP-01', 'Ferry cap', 1800),
  ('STK-01', 'Sticker pack', 400)
ON CONFLICT (sku) DO NOTHING;
`;

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.SHOP_POOL_SIZE ?? 5),
  connectionTimeoutMillis: 2000,
});
// An idle client's error (the server restarted) must not crash the app; the next query reconnects.
pool.on('error', () => {});

let schemaReady = false;

/** Creates the schema once per database; replicas starting together serialise on an advisory lock. */
async function ensureSchema(): Promise<void> {
  while (!schemaReady) {
    try {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(724011)');
        await client.query(SCHEMA);
        await client.query('COMMIT');
        schemaReady = true;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    } catch (error) {
      console.error(`shop: database not ready: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

interface OrderRequest {
  productId?: number | string;
  sku?: string;
  quantity?: number;
  customer?: string;
}

const ORDER_COLUMNS = 'id::text AS id, product_id::text AS "productId", quantity, total_cents::text AS "totalCents", customer, created_at AS "createdAt"';

/**
 * Errors a database switchover causes and a retry cures: the old primary refusing writes
 * (25006, Ferry's write guard), connections cut while the endpoint moves (08xxx, 57P01,
 * socket errors). Retried with backoff for up to ~5 s, as a client of PgBouncer or RDS
 * failover is expected to; the idempotency key makes a retried order safe.
 */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? '';
  return code === '25006' || code === '57P01' || code === '57P03' || code.startsWith('08') || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(code)
    || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

async function withRetry<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isTransient(error) || attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, 25 * (attempt + 1))));
    }
  }
}

async function createOrder(input: OrderRequest, idempotencyKey: string | undefined): Promise<{ status: number; body: unknown }> {
  return withRetry(() => createOrderOnce(input, idempotencyKey));
}

async function createOrderOnce(input: OrderRequest, idempotencyKey: string | undefined): Promise<{ status: number; body: unknown }> {
  const quantity = Number(input.quantity ?? 1);
  if (!Number.isInteger(quantity) || quantity <= 0) return { status: 400, body: { error: 'quantity must be a positive integer' } };
  if (input.productId === undefined && input.sku === undefined) return { status: 400, body: { error: 'productId or sku is required' } };
  const client = await pool.connect();
  // A checked-out client whose socket dies between two queries emits 'error' with nobody
  // listening, which would crash the process: the failing query reports it instead.
  const onError = () => undefined;
  client.on('error', onError);
  let broken = false;
  try {
    await client.query('BEGIN');
    if (idempotencyKey) {
      const existing = await client.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE idempotency_key = $1`, [idempotencyKey]);
      if (existing.rows[0]) {
        await client.query('COMMIT');
        return { status: 200, body: existing.rows[0] };
      }
    }
    const product = await client.query<{ id: string; price_cents: number }>(
      `UPDATE products SET stock = stock - $1
        WHERE ${input.productId !== undefined ? 'id = $2::bigint' : 'sku = $2'} AND stock >= $1
        RETURNING id::text, price_cents`,
      [quantity, input.productId ?? input.sku],
    );
    const row = product.rows[0];
    if (!row) {
      await client.query('ROLLBACK');
      return { status: 409, body: { error: 'no such product, or not enough stock' } };
    }
    const order = await client.query(
      `INSERT INTO orders (product_id, quantity, total_cents, customer, idempotency_key)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${ORDER_COLUMNS}`,
      [row.id, quantity, row.price_cents * quantity, input.customer ?? null, idempotencyKey ?? null],
    );
    // The reply waits for COMMIT: a client that saw 201 can rely on the row existing.
    await client.query('COMMIT');
    return { status: 201, body: order.rows[0] };
  } catch (error) {
    broken = isTransient(error);
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    // A connection cut by a switchover must not go back to the pool.
    client.off('error', onError);
    client.release(broken);
  }
}

void ensureSchema();

await serveApp({
  async readyCheck() {
    if (!schemaReady) return false;
    await withRetry(() => pool.query('SELECT 1'));
    return true;
  },
  async handle(request, response, body) {
    const url = new URL(request.url ?? '/', 'http://shop');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = request.method ?? 'GET';
    if (!schemaReady) return sendJson(response, 503, { error: 'database not ready' });
    if (parts[0] === 'products' && method === 'GET') {
      if (parts.length === 1) return sendJson(response, 200, (await withRetry(() => pool.query('SELECT id::text AS id, sku, name, price_cents AS "priceCents", stock FROM products ORDER BY id'))).rows);
      const found = await withRetry(() => pool.query('SELECT id::text AS id, sku, name, price_cents AS "priceCents", stock FROM products WHERE id::text = $1', [parts[1]]));
      return found.rows[0] ? sendJson(response, 200, found.rows[0]) : sendJson(response, 404, { error: 'no such product' });
    }
    if (parts[0] === 'orders' && parts.length === 1 && method === 'POST') {
      let input: OrderRequest;
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as OrderRequest;
      } catch {
        return sendJson(response, 400, { error: 'body must be JSON' });
      }
      const key = request.headers['idempotency-key'];
      const result = await createOrder(input, typeof key === 'string' ? key : undefined);
      return sendJson(response, result.status, result.body);
    }
    if (parts[0] === 'orders' && parts.length === 1 && method === 'GET') {
      const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 20) || 20));
      return sendJson(response, 200, (await withRetry(() => pool.query(`SELECT ${ORDER_COLUMNS} FROM orders ORDER BY id DESC LIMIT $1`, [limit]))).rows);
    }
    if (parts[0] === 'orders' && parts.length === 2 && method === 'GET') {
      if (!/^\d+$/.test(parts[1] ?? '')) return sendJson(response, 404, { error: 'no such order' });
      const found = await withRetry(() => pool.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1::bigint`, [parts[1]]));
      return found.rows[0] ? sendJson(response, 200, found.rows[0]) : sendJson(response, 404, { error: 'no such order' });
    }
    sendJson(response, 404, { error: `no route for ${method} ${url.pathname}` });
  },
  async shutdown() {
    await pool.end();
  },
});
