import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';

const servers: LocalPostgres[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

test('starts a PostgreSQL 15 server on loopback, ready for logical replication, and removes it on stop', async () => {
  const server = await startLocalPostgres({ name: 'ferry-pg-test' });
  servers.push(server);
  assert.equal(server.host, '127.0.0.1');
  assert.ok(server.port > 0);
  assert.match(server.connectionString, /^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);

  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; wal: string; slots: string; senders: string; su: boolean }>(
      `select current_setting('server_version_num') as version, current_setting('wal_level') as wal,
              current_setting('max_replication_slots') as slots, current_setting('max_wal_senders') as senders,
              (select rolsuper from pg_roles where rolname = current_user) as su`,
    );
    const row = rows[0]!;
    assert.ok(Number(row.version) >= 150000 && Number(row.version) < 160000, `PostgreSQL 15, got ${row.version}`);
    assert.equal(row.wal, 'logical');
    assert.ok(Number(row.slots) >= 10);
    assert.ok(Number(row.senders) >= 10);
    assert.equal(row.su, true);
  } finally {
    await client.end();
  }

  // The password is required over TCP.
  const wrong = new pg.Client({ connectionString: server.connectionString.replace(/:[^:@]+@/, ':wrong@') });
  await assert.rejects(wrong.connect(), /password authentication failed/);

  await server.stop();
  assert.equal(existsSync(server.dataDir), false, 'data directory removed');
  const after = new pg.Client({ connectionString: server.connectionString, connectionTimeoutMillis: 2000 });
  await assert.rejects(after.connect());
  await server.stop(); // twice is harmless
});

test('two servers run side by side on different ports', async () => {
  const [a, b] = await Promise.all([startLocalPostgres(), startLocalPostgres()]);
  servers.push(a, b);
  assert.notEqual(a.port, b.port);
  await Promise.all([a.stop(), b.stop()]);
});
