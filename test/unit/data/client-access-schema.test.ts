import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataSyncSchema } from '../../../src/plan/schema.js';
import { clientAccessSchema, createClientAccess } from '../../../src/data/client-access/index.js';
import { FerryError } from '../../../src/util/errors.js';

const data = { source: 'env:SRC', target: 'env:TGT' };

const cases: Array<{ name: string; input: unknown; parsed: unknown }> = [
  {
    name: 'service: both clusters by default',
    input: { type: 'service', namespace: 'shop', name: 'db', port: 5432, sourceAddress: '10.0.0.5:5432', targetAddress: '10.1.0.5:5432' },
    parsed: { type: 'service', namespace: 'shop', name: 'db', port: 5432, sourceAddress: '10.0.0.5:5432', targetAddress: '10.1.0.5:5432', clusters: ['source', 'target'] },
  },
  {
    name: 'service: IPv6 and host names with ports',
    input: { type: 'service', namespace: 'shop', name: 'db', port: 5432, sourceAddress: '[fd00::5]:5432', targetAddress: 'pg.new.internal:6432', clusters: ['target'] },
    parsed: { type: 'service', namespace: 'shop', name: 'db', port: 5432, sourceAddress: '[fd00::5]:5432', targetAddress: 'pg.new.internal:6432', clusters: ['target'] },
  },
  {
    name: 'externalName',
    input: { type: 'externalName', namespace: 'shop', name: 'db', sourceHost: 'old.db.example.com', targetHost: 'new.db.example.com.' },
    parsed: { type: 'externalName', namespace: 'shop', name: 'db', sourceHost: 'old.db.example.com', targetHost: 'new.db.example.com.', clusters: ['source', 'target'] },
  },
  {
    name: 'endpoint: the token variable has a default',
    input: { type: 'endpoint', adminUrl: 'http://127.0.0.1:6433' },
    parsed: { type: 'endpoint', adminUrl: 'http://127.0.0.1:6433', tokenEnv: 'FERRY_ENDPOINT_TOKEN' },
  },
  {
    name: 'pgbouncer: the password variable has a default',
    input: { type: 'pgbouncer', adminAddress: '127.0.0.1:6432', adminUser: 'ferry', database: 'shop', databasesFile: '/etc/pgbouncer/databases.ini', sourceConnect: 'host=10.0.0.5 port=5432 dbname=shop', targetConnect: 'host=10.1.0.5 dbname=shop' },
    parsed: { type: 'pgbouncer', adminAddress: '127.0.0.1:6432', adminUser: 'ferry', passwordEnv: 'FERRY_PGBOUNCER_PASSWORD', database: 'shop', databasesFile: '/etc/pgbouncer/databases.ini', sourceConnect: 'host=10.0.0.5 port=5432 dbname=shop', targetConnect: 'host=10.1.0.5 dbname=shop' },
  },
];

for (const { name, input, parsed } of cases) {
  test(`data.clientAccess accepts ${name}`, () => {
    assert.deepEqual(dataSyncSchema.parse({ ...data, clientAccess: input }).clientAccess, parsed);
  });
}

test('data.clientAccess is optional: plans without it stay valid', () => {
  assert.equal(dataSyncSchema.parse(data).clientAccess, undefined);
});

const refused: Array<{ name: string; input: unknown; field: string }> = [
  { name: 'an unknown way', input: { type: 'pgpool', adminUrl: 'http://127.0.0.1:1' }, field: 'data.clientAccess.type' },
  { name: 'an address without a port', input: { type: 'service', namespace: 'shop', name: 'db', port: 5432, sourceAddress: '10.0.0.5', targetAddress: '10.1.0.5:5432' }, field: 'data.clientAccess.sourceAddress' },
  { name: 'a token written into the plan', input: { type: 'endpoint', adminUrl: 'http://127.0.0.1:6433', token: 'abc' }, field: 'data.clientAccess' },
  { name: 'a password in a PgBouncer connect string', input: { type: 'pgbouncer', adminAddress: '127.0.0.1:6432', adminUser: 'ferry', database: 'shop', databasesFile: '/x', sourceConnect: 'host=a password=hunter2', targetConnect: 'host=b' }, field: 'data.clientAccess.sourceConnect' },
  { name: 'a cluster that is neither side', input: { type: 'externalName', namespace: 'shop', name: 'db', sourceHost: 'a.example.com', targetHost: 'b.example.com', clusters: ['staging'] }, field: 'data.clientAccess.clusters.0' },
];

for (const { name, input, field } of refused) {
  test(`createClientAccess refuses ${name}, naming the field`, () => {
    assert.equal(clientAccessSchema.safeParse(input).success, false);
    assert.throws(() => createClientAccess(input as never), (error: unknown) => {
      assert.ok(error instanceof FerryError);
      assert.equal(error.location.field, field);
      return true;
    });
  });
}
