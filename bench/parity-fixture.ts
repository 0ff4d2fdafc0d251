/**
 * The parity bench's fixture: seven tables of the shapes real schemas have, generated
 * deterministically (the same SQL gives the same rows on both servers), and a set of
 * differences made on one side only, spread over the tables.
 *
 * Shapes: bigint keys (accounts, orders), a composite bigint+int key (order_lines), a text key
 * (products), uuid keys (sessions, billing.documents), a text+bigint key in a second schema
 * (billing.invoices); NULL and '' side by side, numeric with a fixed scale and an unconstrained
 * numeric (1.0 and 1.00 are equal numbers but different text), timestamps to the microsecond,
 * jsonb, inet, and TOASTed documents (2–10 KB of barely compressible text, stored out of line).
 */
import { createHash } from 'node:crypto';
import { sql } from '../test/helpers/pg.js';

export interface FixtureTable {
  name: string;
  /** Share of the total rows. */
  share: number;
  create: string;
  /** INSERT … SELECT over generate_series(lo, hi) g. */
  fill: (lo: number, hi: number) => string;
  /** SQL key literal tuple of row g, for making differences. */
  key: (g: number) => string;
  keyColumns: string[];
  /** The key printed as Ferry names it (text of each key column). */
  keyText: (g: number) => string[];
  /** A change to row g (run on one side only). */
  change: (g: number) => string;
}

const uuidOf = (salt: string, g: string) => `md5('${salt}' || ${g})::uuid`;
const uuidText = (salt: string, g: number) => {
  const hex = md5(`${salt}${g}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

export const FIXTURE: FixtureTable[] = [
  {
    name: 'public.accounts',
    share: 0.1,
    create: `create table public.accounts (id bigint primary key, email text not null, name text, status text,
      balance numeric(14,2) not null, created_at timestamptz not null, last_login timestamp)`,
    fill: (lo, hi) => `insert into public.accounts select g, 'user' || g || '@example.com', case when g % 7 = 0 then null else 'Name ' || g end,
      case g % 3 when 0 then null when 1 then '' else 'active' end, (g % 100000) / 100.0,
      timestamptz '2020-01-01' + g * interval '1.000001 second', case when g % 5 = 0 then null else timestamp '2024-01-01' + g * interval '3.000007 second' end
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `${g}`,
    keyColumns: ['id'],
    keyText: (g) => [String(g)],
    change: (g) => `update public.accounts set status = case when status is null then '' else null end where id = ${g}`,
  },
  {
    name: 'public.orders',
    share: 0.3,
    create: `create table public.orders (id bigint primary key, account_id bigint not null, total numeric(12,2) not null, currency char(3) not null,
      note text, placed_at timestamptz not null, shipped_on date)`,
    fill: (lo, hi) => `insert into public.orders select g, 1 + g % 100000, (g % 1000000) / 100.0, case when g % 2 = 0 then 'EUR' else 'USD' end,
      case g % 4 when 0 then null when 1 then '' else 'deliver to door ' || g end,
      timestamptz '2023-01-01' + g * interval '0.250001 second', case when g % 3 = 0 then null else date '2023-01-01' + (g % 700) end
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `${g}`,
    keyColumns: ['id'],
    keyText: (g) => [String(g)],
    change: (g) => `update public.orders set placed_at = placed_at + interval '1 microsecond' where id = ${g}`,
  },
  {
    name: 'public.order_lines',
    share: 0.3,
    create: `create table public.order_lines (order_id bigint not null, line int not null, sku text not null, qty int not null,
      unit_price numeric(10,4) not null, discount numeric, primary key (order_id, line))`,
    // Three lines per order.
    fill: (lo, hi) => `insert into public.order_lines select 1 + (g - 1) / 3, 1 + (g - 1) % 3, 'SKU-' || lpad((g % 50000)::text, 6, '0'), 1 + g % 5,
      (g % 100000) / 10000.0, case g % 4 when 0 then null when 1 then 1.0 when 2 then 0.25 else 0.125 end
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `(${1 + Math.floor((g - 1) / 3)}, ${1 + ((g - 1) % 3)})`,
    keyColumns: ['order_id', 'line'],
    keyText: (g) => [String(1 + Math.floor((g - 1) / 3)), String(1 + ((g - 1) % 3))],
    // 1.0 → 1.00: the same number, another text (pg_dump sees it; so must parity).
    change: (g) => `update public.order_lines set discount = case when discount = 1.0 then 1.00 when discount is null then 0 else discount * 2 end
      where (order_id, line) = (${1 + Math.floor((g - 1) / 3)}, ${1 + ((g - 1) % 3)})`,
  },
  {
    name: 'public.products',
    share: 0.05,
    create: `create table public.products (sku text primary key, title text not null, attrs jsonb, price numeric(10,2), active boolean not null)`,
    fill: (lo, hi) => `insert into public.products select 'P-' || md5(g::text), 'Product ' || g,
      case when g % 6 = 0 then null else jsonb_build_object('color', 'c' || g % 17, 'size', g % 5, 'tags', jsonb_build_array('a', g % 3)) end,
      (g % 50000) / 100.0, g % 9 <> 0
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `'P-${md5(String(g))}'`,
    keyColumns: ['sku'],
    keyText: (g) => [`P-${md5(String(g))}`],
    change: (g) => `update public.products set attrs = coalesce(attrs, '{}') || '{"size": 99}' where sku = 'P-${md5(String(g))}'`,
  },
  {
    name: 'public.sessions',
    share: 0.14,
    create: `create table public.sessions (id uuid primary key, account_id bigint not null, started_at timestamptz not null, ip inet, user_agent text)`,
    fill: (lo, hi) => `insert into public.sessions select ${uuidOf('s', 'g')}, 1 + g % 100000, timestamptz '2025-01-01' + g * interval '0.000123 second',
      ('10.' || g % 256 || '.' || (g / 256) % 256 || '.' || (g / 65536) % 256)::inet, case when g % 10 = 0 then '' else 'Mozilla/5.0 (X11; Linux x86_64) build ' || g % 977 end
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `'${uuidText('s', g)}'`,
    keyColumns: ['id'],
    keyText: (g) => [uuidText('s', g)],
    change: (g) => `update public.sessions set user_agent = user_agent || ' ' where id = '${uuidText('s', g)}'`,
  },
  {
    name: 'billing.invoices',
    share: 0.1,
    create: `create table billing.invoices (tenant text not null, number bigint not null, amount numeric(12,4) not null, issued_at timestamptz not null,
      memo text, primary key (tenant, number))`,
    fill: (lo, hi) => `insert into billing.invoices select 'tenant-' || (g % 13), g, (g % 10000000) / 10000.0, timestamptz '2022-06-01' + g * interval '17.000003 second',
      case when g % 5 = 0 then null else repeat('line item ', 1 + g % 8) end
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `('tenant-${g % 13}', ${g})`,
    keyColumns: ['tenant', 'number'],
    keyText: (g) => [`tenant-${g % 13}`, String(g)],
    change: (g) => `update billing.invoices set amount = amount + 0.0001 where (tenant, number) = ('tenant-${g % 13}', ${g})`,
  },
  {
    name: 'billing.documents',
    share: 0.01,
    create: `create table billing.documents (id uuid primary key, invoice bigint not null, title text not null, body text not null)`,
    // md5 hex chains barely compress: 2–10 KB bodies are stored out of line (TOAST).
    fill: (lo, hi) => `insert into billing.documents select ${uuidOf('d', 'g')}, g, 'Document ' || g,
      (select string_agg(md5(g::text || ':' || i), '') from generate_series(1, 64 + (g % 5) * 64) i)
      from generate_series(${lo}, ${hi}) g`,
    key: (g) => `'${uuidText('d', g)}'`,
    keyColumns: ['id'],
    keyText: (g) => [uuidText('d', g)],
    // One character in the middle of a TOASTed document.
    change: (g) => `update billing.documents set body = overlay(body placing 'X' from 1000 for 1) where id = '${uuidText('d', g)}'`,
  },
];

export function tableRows(total: number, table: FixtureTable): number {
  return Math.max(10, Math.round(total * table.share));
}

/** Creates and fills the fixture on one server (1 M-row statements bound memory and WAL per statement). */
export async function loadFixture(url: string, total: number): Promise<void> {
  await sql(url, `create schema if not exists billing; ${FIXTURE.map((t) => t.create).join(';\n')}`);
  for (const table of FIXTURE) {
    const rows = tableRows(total, table);
    for (let lo = 1; lo <= rows; lo += 1_000_000) await sql(url, table.fill(lo, Math.min(rows, lo + 999_999)));
  }
  await sql(url, `vacuum analyze`);
}

export interface Difference {
  table: string;
  key: string[];
  kind: 'missing' | 'extra' | 'changed';
}

/**
 * Makes `count` differences on `url` (one side) spread over the tables round-robin:
 * changed rows, rows deleted (missing on this side) and rows added (extra). Returns them as
 * Ferry names them. `undo` gives the SQL that puts the side back.
 */
export function differences(total: number, count: number): { apply: string; undo: string; expected: Difference[] } {
  const apply: string[] = [];
  const undo: string[] = [];
  const expected: Difference[] = [];
  const used = new Set<string>();
  for (let i = 0; i < count; i++) {
    const table = FIXTURE[i % FIXTURE.length]!;
    const rows = tableRows(total, table);
    // Spread over the key space with a multiplicative hash; skip repeats.
    let g = 1 + ((i * 2654435761) % rows);
    while (used.has(`${table.name}:${g}`)) g = 1 + (g % rows);
    used.add(`${table.name}:${g}`);
    const kind = i % 5 === 3 ? 'missing' : i % 5 === 4 ? 'extra' : 'changed';
    if (kind === 'changed') {
      apply.push(table.change(g));
      undo.push(`delete from ${table.name} where (${table.keyColumns.join(', ')}) = (${table.key(g)}); ${table.fill(g, g)}`);
      expected.push({ table: table.name, key: table.keyText(g), kind });
    } else if (kind === 'missing') {
      apply.push(`delete from ${table.name} where (${table.keyColumns.join(', ')}) = (${table.key(g)})`);
      undo.push(table.fill(g, g));
      expected.push({ table: table.name, key: table.keyText(g), kind });
    } else {
      // A row past the generated ones (its g is beyond the table's rows).
      const extra = rows + 1 + i;
      apply.push(table.fill(extra, extra));
      undo.push(`delete from ${table.name} where (${table.keyColumns.join(', ')}) = (${table.key(extra)})`);
      expected.push({ table: table.name, key: table.keyText(extra), kind });
    }
  }
  const wrap = (list: string[]) => `set session_replication_role = replica; begin; ${list.join(';\n')}; commit`;
  return { apply: count === 0 ? 'select 1' : wrap(apply), undo: count === 0 ? 'select 1' : wrap(undo), expected };
}
