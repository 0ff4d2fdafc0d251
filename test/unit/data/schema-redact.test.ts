import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSchemas, type SchemaSnapshot } from '../../../src/data/postgres/schema.js';
import { Redactor, redact } from '../../../src/data/redact.js';

const empty = (): SchemaSnapshot => ({ tables: {}, columns: {}, constraints: {}, indexes: {}, sequences: {} });

test('schema diff lists missing, extra and different objects of every kind', () => {
  const source = empty();
  const target = empty();
  source.tables = { 'public.a': 'table', 'public.b': 'table' };
  target.tables = { 'public.a': 'table', 'public.c': 'table' };
  source.columns = { 'public.a.id': 'bigint not null', 'public.a.note': 'text' };
  target.columns = { 'public.a.id': 'integer not null', 'public.a.note': 'text' };
  source.indexes = { 'public.a_note_idx': 'CREATE INDEX a_note_idx ON public.a USING btree (note)' };
  source.sequences = { 'public.a_id_seq': 'bigint increment 1 min 1 max 9223372036854775807' };
  target.sequences = { 'public.a_id_seq': 'bigint increment 1 min 1 max 9223372036854775807' };
  assert.deepEqual(diffSchemas(source, target), [
    { kind: 'table', object: 'public.b', change: 'missing-on-target', source: 'table' },
    { kind: 'table', object: 'public.c', change: 'extra-on-target', target: 'table' },
    { kind: 'column', object: 'public.a.id', change: 'different', source: 'bigint not null', target: 'integer not null' },
    { kind: 'index', object: 'public.a_note_idx', change: 'missing-on-target', source: 'CREATE INDEX a_note_idx ON public.a USING btree (note)' },
  ]);
  assert.deepEqual(diffSchemas(source, source), []);
});

test('connection strings are printed without their passwords', () => {
  assert.equal(redact('postgresql://app:s3cr%40t@db:5432/shop?sslmode=require'), 'postgresql://app:***@db:5432/shop?sslmode=require');
  assert.equal(redact('host=db user=app password=s3cret dbname=shop'), 'host=db user=app password=*** dbname=shop');
  assert.equal(redact("host=db password='a b' dbname=x"), 'host=db password=*** dbname=x');
  const redactor = new Redactor(['postgresql://app:s3cr%40t@db/shop']);
  assert.equal(redactor.text('could not connect with s3cr@t or s3cr%40t'), 'could not connect with *** or ***');
});
