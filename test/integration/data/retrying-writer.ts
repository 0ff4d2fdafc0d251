/**
 * An application that knows one database address and behaves as applications do when the
 * database moves under it: a write that fails because its connection dropped, or because the
 * database refused it (SQLSTATE 25006, Ferry's closed side), was not acknowledged, so the
 * writer reconnects to the same address and retries it. Every acknowledged write is recorded
 * (id → note) so a test can check each one is on the database that ends up primary.
 */
import pg from 'pg';

/** Errors after which an application reconnects and retries (the write did not commit, or its outcome was not acknowledged). */
const RETRYABLE = new Set(['25006', '57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

export class RetryingWriter {
  readonly acked = new Map<string, string>();
  writes = 0;
  /** Writes that failed and were retried (reconnects included). */
  retries = 0;
  /** Writes given up on after retrying for `giveUpMs`: a failure the user would see. */
  failed = 0;
  /** Longest time between two acknowledged writes of one writer (the pause as the application saw it). */
  longestGapMs = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: { url: string; writers?: number; perSecond?: number; maxWrites?: number; giveUpMs?: number }) {}

  start(): void {
    this.running = true;
    for (let w = 0; w < (this.options.writers ?? 2); w++) this.loops.push(this.loop(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async loop(writer: number): Promise<void> {
    const interval = 1000 / ((this.options.perSecond ?? 200) / (this.options.writers ?? 2));
    const giveUpMs = this.options.giveUpMs ?? 10_000;
    const mine: string[] = [];
    let client: pg.Client | undefined;
    let n = 0;
    let lastAck = performance.now();
    while (this.running && this.writes < (this.options.maxWrites ?? 100_000)) {
      const started = performance.now();
      n++;
      const note = `w${writer}-${n}`;
      const id = mine.length > 0 && n % 3 === 0 ? mine[(n * 7919) % mine.length]! : null;
      let done = false;
      while (!done && performance.now() - started < giveUpMs) {
        try {
          client ??= await connect(this.options.url);
          if (id) {
            await client.query('update public.orders set note = $1 where id = $2', [note, id]);
            this.acked.set(id, note);
          } else {
            const { rows } = await client.query<{ id: string }>('insert into public.orders (account, amount, note) values ($1, 1, $2) returning id::text', [writer, note]);
            mine.push(rows[0]!.id);
            this.acked.set(rows[0]!.id, note);
          }
          done = true;
        } catch (error) {
          const code = (error as { code?: string }).code ?? '';
          const dropped = /Connection terminated|not queryable|ended unexpectedly/i.test((error as Error).message);
          if (!RETRYABLE.has(code) && !dropped) throw error;
          this.retries++;
          // 25006 on an open connection: the database is closed to writes; the endpoint is
          // about to move, so reconnect as a pool discarding a failed connection would.
          await client?.end().catch(() => undefined);
          client = undefined;
          await sleep(5);
        }
      }
      if (!done) {
        this.failed++;
        continue;
      }
      this.writes++;
      const now = performance.now();
      this.longestGapMs = Math.max(this.longestGapMs, now - lastAck);
      lastAck = now;
      const wait = interval - (now - started);
      if (wait > 0) await sleep(wait);
    }
    await client?.end().catch(() => undefined);
  }

  /** Acknowledged writes that `url` does not hold (id → expected note). */
  async missingOn(url: string): Promise<Array<{ id: string; note: string }>> {
    const client = await connect(url);
    try {
      const { rows } = await client.query<{ id: string; note: string }>('select id::text, note from public.orders where id = any($1::bigint[])', [[...this.acked.keys()]]);
      const have = new Map(rows.map((row) => [row.id, row.note]));
      return [...this.acked].filter(([id, note]) => have.get(id) !== note).map(([id, note]) => ({ id, note }));
    } finally {
      await client.end();
    }
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
