/**
 * A steady, bounded write load that behaves like an application during a move: each writer
 * inserts rows and updates rows it inserted, on whichever database is primary. A write
 * refused by Ferry's guard (SQLSTATE 25006) was not acknowledged: the writer switches to
 * the other database and retries it. Every acknowledged write is recorded, so a test can
 * check that each one is on the database that ends up primary.
 */
import pg from 'pg';

export interface AckedRow {
  id: string;
  note: string;
}

export interface WriteLoadOptions {
  urls: { source: string; target: string };
  primary: 'source' | 'target';
  writers?: number;
  /** Target rate of all writers together. */
  perSecond?: number;
  maxWrites?: number;
}

export class WriteLoad {
  readonly acked = new Map<string, string>();
  writes = 0;
  refused = 0;
  /** Longest time between two acknowledged writes of one writer, ms (the pause as the application saw it). */
  longestGapMs = 0;
  primary: 'source' | 'target';
  private running = false;
  private loops: Promise<void>[] = [];
  private clients: pg.Client[] = [];

  constructor(private readonly options: WriteLoadOptions) {
    this.primary = options.primary;
  }

  async start(): Promise<void> {
    this.running = true;
    const writers = this.options.writers ?? 2;
    for (let w = 0; w < writers; w++) {
      const clients = { source: await connect(this.options.urls.source), target: await connect(this.options.urls.target) };
      this.clients.push(clients.source, clients.target);
      this.loops.push(this.loop(w, clients));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    await Promise.all(this.clients.map((c) => c.end().catch(() => undefined)));
    this.clients = [];
  }

  private async loop(writer: number, clients: { source: pg.Client; target: pg.Client }): Promise<void> {
    const interval = 1000 / ((this.options.perSecond ?? 200) / (this.options.writers ?? 2));
    const mine: string[] = [];
    let n = 0;
    let lastAck = performance.now();
    const max = this.options.maxWrites ?? 1_000_000;
    while (this.running && this.writes < max) {
      const started = performance.now();
      n++;
      const note = `w${writer}-${n}`;
      const update = mine.length > 0 && n % 3 === 0;
      const id = update ? mine[(n * 7919) % mine.length]! : null;
      // Retry the same write until one database acknowledges it (bounded).
      for (let attempt = 0; attempt < 200 && this.running; attempt++) {
        const db = clients[this.primary];
        try {
          if (id) {
            await db.query('update public.orders set note = $1 where id = $2', [note, id]);
            this.acked.set(id, note);
          } else {
            const { rows } = await db.query<{ id: string }>('insert into public.orders (account, amount, note) values ($1, 1, $2) returning id::text', [writer, note]);
            mine.push(rows[0]!.id);
            this.acked.set(rows[0]!.id, note);
          }
          this.writes++;
          const now = performance.now();
          this.longestGapMs = Math.max(this.longestGapMs, now - lastAck);
          lastAck = now;
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '25006') throw error;
          this.refused++;
          this.primary = this.primary === 'source' ? 'target' : 'source';
          await sleep(2);
        }
      }
      const wait = interval - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
  }

  /** Acknowledged writes that `url` does not hold (as id → expected note). */
  async missingOn(url: string): Promise<AckedRow[]> {
    const client = await connect(url);
    try {
      const ids = [...this.acked.keys()];
      const { rows } = await client.query<{ id: string; note: string }>('select id::text, note from public.orders where id = any($1::bigint[])', [ids]);
      const have = new Map(rows.map((row) => [row.id, row.note]));
      return [...this.acked].filter(([id, note]) => have.get(id) !== note).map(([id, note]) => ({ id, note }));
    } finally {
      await client.end();
    }
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
