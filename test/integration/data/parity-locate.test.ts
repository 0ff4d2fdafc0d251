/**
 * Parity on small real databases with the key and value shapes real schemas have: every
 * differing row is named by its exact key (bigint, composite, text-led composite, text,
 * uuid, a second schema, a table without a key-order layout), differences a typed hash would
 * miss are found (NULL vs '', 1.0 vs 1.00, +1 µs, one character inside a TOASTed document),
 * the locate needs a bounded number of queries per differing row, and no value other than a
 * key leaves in the report.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sql } from '../../helpers/pg.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { PostgresDataProvider } from '../../../src/data/postgres/provider.js';
import type { ParityOptions } from '../../../src/data/provider.js';
import { ferryAsync } from '../../helpers/cli.js';

let source: LocalPostgres;
let target: LocalPostgres;
let data: PostgresDataProvider;

const SECRET = 'hunter2-secret-value';
// Small chunks so that a few thousand rows make many chunks, as millions do with the defaults.
const OPTIONS: ParityOptions = { chunkRows: 100, concurrency: 3 };

interface Shape {
  table: string;
  rows: number;
  /** SQL key tuple of generated row g. */
  key: (g: number) => string;
  /** The key as Ferry prints it. */
  text: (g: number) => string[];
  columns: string;
  fill: (lo: number, hi: number) => string;
  change: string;
}

const uuid = (g: number | string) => `md5('u' || ${g})::uuid`;
const SHAPES: Shape[] = [
  {
    table: 'public.accounts',
    rows: 3000,
    key: (g) => `(${g})`,
    text: (g) => [String(g)],
    columns: 'id',
    fill: (lo, hi) => `insert into public.accounts select g, case g % 3 when 0 then null when 1 then '' else 'x' end, timestamptz '2024-01-01' + g * interval '1.000001 s', '${SECRET}' from generate_series(${lo}, ${hi}) g`,
    change: `set status = case when status is null then '' else null end`,
  },
  {
    table: 'public.lines',
    rows: 3000,
    key: (g) => `(${1 + Math.floor(g / 4)}, ${g % 4})`,
    text: (g) => [String(1 + Math.floor(g / 4)), String(g % 4)],
    columns: 'order_id, line',
    fill: (lo, hi) => `insert into public.lines select 1 + g / 4, g % 4, case when g % 2 = 0 then 1.0 else 0.5 end from generate_series(${lo}, ${hi}) g`,
    change: `set discount = case when discount = 1.0 then 1.00 else discount * 3 end`,
  },
  {
    table: 'public.products',
    rows: 2000,
    key: (g) => `('p-' || md5('${g}'))`,
    text: () => [],
    columns: 'sku',
    fill: (lo, hi) => `insert into public.products select 'p-' || md5(g::text), 'title ' || g from generate_series(${lo}, ${hi}) g`,
    change: `set title = title || '!'`,
  },
  {
    table: 'public.sessions',
    // Enough heap pages (~130) that the scattered scan reads it in several page spans (TID ranges).
    rows: 20000,
    key: (g) => `(${uuid(g)})`,
    text: () => [],
    columns: 'id',
    fill: (lo, hi) => `insert into public.sessions select ${uuid('g')}, timestamp '2025-01-01' + g * interval '0.000123 s' from generate_series(${lo}, ${hi}) g`,
    change: `set seen_at = seen_at + interval '1 microsecond'`,
  },
  {
    table: 'billing.invoices',
    rows: 2000,
    key: (g) => `('tenant-' || ${g} % 5, ${g})`,
    text: (g) => [`tenant-${g % 5}`, String(g)],
    columns: 'tenant, number',
    fill: (lo, hi) => `insert into billing.invoices select 'tenant-' || g % 5, g, (g % 1000) / 100.0, '${SECRET}' from generate_series(${lo}, ${hi}) g`,
    change: `set amount = amount + 0.01`,
  },
  {
    table: 'billing.documents',
    rows: 300,
    key: (g) => `(${g})`,
    text: (g) => [String(g)],
    columns: 'id',
    // ~4 KB of barely compressible text per row: stored out of line (TOAST).
    fill: (lo, hi) => `insert into billing.documents select g, (select string_agg(md5(g || ':' || i), '') from generate_series(1, 128) i) from generate_series(${lo}, ${hi}) g`,
    change: `set body = overlay(body placing 'X' from 2000 for 1)`,
  },
];

/** Keys as Ferry prints them, read from the database (md5/uuid keys are easier to read than to recompute). */
async function keyText(shape: Shape, g: number): Promise<string[]> {
  const fixed = shape.text(g);
  if (fixed.length > 0) return fixed;
  const result = await sql(source.connectionString, `select (${shape.key(g)})::text as k`);
  return [String(result.rows[0].k).replace(/^\(|\)$/g, '')];
}

before(async () => {
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-locate-src' }), startLocalPostgres({ name: 'ferry-locate-tgt' })]);
  const schema = `create schema billing;
    create table public.accounts (id bigint primary key, status text, created_at timestamptz not null, password text);
    create table public.lines (order_id bigint, line int, discount numeric, primary key (order_id, line));
    create table public.products (sku text primary key, title text not null);
    create table public.sessions (id uuid primary key, seen_at timestamp not null);
    create table billing.invoices (tenant text, number bigint, amount numeric(10,2) not null, note text, primary key (tenant, number));
    create table billing.documents (id bigint primary key, body text not null);`;
  const fill = SHAPES.map((s) => s.fill(1, s.rows)).join(';\n');
  await Promise.all([source, target].map((server) => sql(server.connectionString, `${schema}\n${fill};\nanalyze`)));
  data = new PostgresDataProvider({ name: 'locate', source: { url: source.connectionString }, target: { url: target.connectionString } });
});

after(async () => {
  await data?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

type Edit = { shape: number; g: number; kind: 'changed' | 'missing' | 'extra' };

/** Applies edits on the target only; returns the expected differences and the SQL that undoes them. */
async function applyEdits(edits: Edit[]): Promise<{ expected: string[]; undo: string }> {
  const expected: string[] = [];
  const apply: string[] = [];
  const undo: string[] = [];
  for (const edit of edits) {
    const shape = SHAPES[edit.shape]!;
    const where = `(${shape.columns}) = ${shape.key(edit.g)}`;
    if (edit.kind === 'changed') {
      apply.push(`update ${shape.table} ${shape.change} where ${where}`);
      undo.push(`delete from ${shape.table} where ${where}; ${shape.fill(edit.g, edit.g)}`);
    } else if (edit.kind === 'missing') {
      apply.push(`delete from ${shape.table} where ${where}`);
      undo.push(shape.fill(edit.g, edit.g));
    } else {
      apply.push(shape.fill(edit.g, edit.g));
      undo.push(`delete from ${shape.table} where ${where}`);
    }
    expected.push(`${edit.kind} ${shape.table} ${JSON.stringify(await keyText(shape, edit.g))}`);
  }
  await sql(target.connectionString, `begin; ${apply.join(';\n')}; commit`);
  return { expected: expected.sort(), undo: `begin; ${undo.join(';\n')}; commit` };
}

test('equal databases: parity passes, every table chunked, no locate query', async () => {
  const report = await data.parity(OPTIONS);
  assert.equal(report.ok, true, JSON.stringify(report.differences));
  assert.equal(report.locateQueries, 0);
  assert.equal(report.locateQueriesPerDifference, null);
  assert.ok(report.bytesReceived! > 0);
  assert.equal(report.tables.length, SHAPES.length, 'every table was compared');
  for (const table of report.tables) assert.ok(table.chunks > 1, `${table.table} was not chunked`);
  assert.equal(report.rows, SHAPES.reduce((sum, s) => sum + s.rows, 0));
});

test('one difference of each shape is named by its exact key, including those a typed hash would miss', async () => {
  const edits: Edit[] = SHAPES.map((_, shape) => ({ shape, g: 37 + shape * 11, kind: 'changed' }));
  edits.push({ shape: 3, g: 25000, kind: 'extra' }, { shape: 4, g: 777, kind: 'missing' });
  const { expected, undo } = await applyEdits(edits);
  try {
    const report = await data.parity(OPTIONS);
    assert.equal(report.ok, false);
    assert.deepEqual(report.differences.map((d) => `${d.kind} ${d.table} ${JSON.stringify(d.key)}`).sort(), expected);
    // No value but keys in what Ferry reports (the accounts and invoices carry a secret column).
    assert.ok(!JSON.stringify(report).includes(SECRET));
  } finally {
    await sql(target.connectionString, undo);
  }
});

test('random sets of differing rows are found exactly, with a bounded number of locate queries', async () => {
  const edit = fc.record({
    shape: fc.integer({ min: 0, max: SHAPES.length - 1 }),
    g: fc.integer({ min: 1, max: 3000 }),
    kind: fc.constantFrom('changed' as const, 'missing' as const, 'extra' as const),
  });
  // Chunk sizes that send every mismatched chunk through the sub-bucket step, with 64 or with more sub-buckets (whole-table chunks).
  const optionSets: ParityOptions[] = [OPTIONS, { ...OPTIONS, leafRows: 8 }, { ...OPTIONS, chunkRows: 5_000, leafRows: 8, fanout: 2 }];
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(edit, { minLength: 1, maxLength: 25, selector: (e) => `${e.shape}:${e.g}` }), fc.constantFrom(...optionSets), async (raw, options) => {
      // Rows past a table's generated ones are extra; rows within it are changed or missing.
      const edits = raw.map((e) => {
        const rows = SHAPES[e.shape]!.rows;
        return e.kind === 'extra' ? { ...e, g: rows + e.g } : { ...e, g: 1 + (e.g % rows) };
      });
      const unique = [...new Map(edits.map((e) => [`${e.shape}:${e.g}`, e])).values()];
      const { expected, undo } = await applyEdits(unique);
      try {
        const report = await data.parity(options);
        assert.deepEqual(report.differences.map((d) => `${d.kind} ${d.table} ${JSON.stringify(d.key)}`).sort(), expected);
        // Per locate job 2 sub-bucket + 2 row statements, one job per table with differences (plus at
        // most 2 per connection when one table holds most of them), then 2 confirmations for all tables.
        const tables = new Set(unique.map((e) => e.shape)).size;
        assert.ok(report.locateQueries <= 4 * (tables + 2 * OPTIONS.concurrency!) + 2, `${report.locateQueries} locate queries for ${unique.length} rows in ${tables} tables`);
        assert.ok(report.locateQueriesPerDifference! <= 6, `${report.locateQueriesPerDifference} locate queries per differing row`);
      } finally {
        await sql(target.connectionString, undo);
      }
    }),
    { numRuns: 10 },
  );
});

test('the text hash finds the same differences', async () => {
  const { expected, undo } = await applyEdits([{ shape: 1, g: 10, kind: 'changed' }, { shape: 2, g: 20, kind: 'missing' }]);
  try {
    const report = await data.parity({ ...OPTIONS, hash: 'text' });
    assert.deepEqual(report.differences.map((d) => `${d.kind} ${d.table} ${JSON.stringify(d.key)}`).sort(), expected);
  } finally {
    await sql(target.connectionString, undo);
  }
});

test('ferry data parity prints the locate queries per differing row and the bytes received, in the table and in -o json', async () => {
  const { undo } = await applyEdits([{ shape: 0, g: 5, kind: 'changed' }]);
  try {
    const env = { FERRY_SOURCE_URL: source.connectionString, FERRY_TARGET_URL: target.connectionString, NO_COLOR: '1' };
    // No password in the output, checked before any assertion that would print it.
    const clean = (out: { stdout: string; stderr: string }) => assert.ok(!out.stdout.includes(SECRET) && !out.stdout.includes(source.password) && !out.stderr.includes(source.password), 'a secret or the password in the output');
    const table = await ferryAsync(['data', 'parity', '--name', 'locate', '--connections', '2'], { env });
    clean(table);
    assert.equal(table.code, 1, table.stderr);
    assert.match(table.stdout, /locate: \d+ queries \(\d+\.\d per differing row\); \d+ KiB received from the servers; 2 connections per side/);
    assert.match(table.stdout, /changed\s+public\.accounts \(5\)/);
    const json = await ferryAsync(['data', 'parity', '--name', 'locate', '-o', 'json'], { env });
    clean(json);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.differences, [{ table: 'public.accounts', key: ['5'], kind: 'changed' }]);
    assert.ok(report.locateQueriesPerDifference > 0 && report.locateQueriesPerDifference <= 6);
    assert.ok(report.bytesReceived > 0);
    for (const out of [table, json]) clean(out);
    const bad = await ferryAsync(['data', 'parity', '--connections', '0'], { env });
    assert.match(bad.stderr, /--connections must be a positive whole number/);
  } finally {
    await sql(target.connectionString, undo);
  }
});
