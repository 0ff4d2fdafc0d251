import pg from 'pg';

/** Runs SQL on a fresh connection to `url` (test set-up and checks; the code under test opens its own). */
export async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}
