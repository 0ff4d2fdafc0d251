/**
 * A Service or an ExternalName changes only where *new* connections go: after re-pointing
 * them, Ferry ends the applications' sessions on the database they left, so that they
 * reconnect through the moved address. Ferry's own sessions and replication are untouched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';

let server: LocalPostgres;
let data: PostgresDataProvider;

before(async () => {
  server = await startLocalPostgres({ name: 'ferry-disconnect' });
  data = new PostgresDataProvider({ name: 'dc', source: { url: server.connectionString }, target: { url: server.connectionString } });
});

after(async () => {
  await data?.close();
  await server?.stop();
});

test("disconnectApplications ends the applications' sessions and keeps Ferry's", async () => {
  const apps = await Promise.all([1, 2].map(async () => {
    const client = new pg.Client({ connectionString: server.connectionString, application_name: 'shop' });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }));
  await data.check(); // opens Ferry's own session on the source
  assert.equal(await data.disconnectApplications('source'), 2);
  for (const app of apps) await assert.rejects(app.query('select 1'), /terminat|Connection/i);
  // Ferry's session survived and works.
  assert.equal((await data.check()).items.length > 0, true);
  assert.equal(await data.disconnectApplications('source'), 0);
  await Promise.all(apps.map((app) => app.end().catch(() => undefined)));
});
