/**
 * The one redaction (src/data/redact.ts) against random passwords — quotes, @ : / % ? # &,
 * backslashes, spaces, unicode — in every form a connection string takes in Ferry's messages:
 * URIs with and without a user, percent-encoded, `?password=`, keyword/value conninfo (bare
 * and quoted), each also inside the SQL literal of CREATE SUBSCRIPTION, inside a driver
 * message, JSON-encoded, and cut to length after redaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FerryError } from '../../../src/util/errors.js';
import { MASK, Redactor, passwordOf, redact, redactError } from '../../../src/data/redact.js';
import { literal } from '../../../src/data/postgres/sql.js';

const SPECIAL = ['@', ':', '/', '%', "'", '"', ' ', '\\', '?', '#', '&', '=', 'é', 'ß', '日', '🚢', 'Ж', '\t'];
/** Passwords of 4–24 characters drawn from letters, digits and the characters that break naive parsers. */
const password = fc
  .array(fc.oneof(fc.constantFrom(...SPECIAL), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''))), { minLength: 4, maxLength: 24 })
  .map((chars) => chars.join(''));

/** libpq keyword/value quoting: backslash and quote escaped inside single quotes. */
const kvQuote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

type Form = (p: string) => string;
const FORMS: Record<string, Form> = {
  'uri user:password': (p) => `postgresql://app:${encodeURIComponent(p)}@db.internal:5432/shop?sslmode=prefer`,
  'uri without user': (p) => `postgresql://:${encodeURIComponent(p)}@db.internal/shop`,
  'uri ?password=': (p) => `postgresql://db.internal:5432/shop?user=app&password=${encodeURIComponent(p)}&sslmode=require`,
  'uri postgres: scheme': (p) => `postgres://u:${encodeURIComponent(p)}@10.0.0.5/db`,
  'keyword/value quoted': (p) => `host=db.internal port=5432 user=app password=${kvQuote(p)} dbname=shop`,
  'keyword/value first': (p) => `password=${kvQuote(p)} host=db.internal`,
};
/** Where Ferry's messages carry a connection string. */
const CONTEXTS: Record<string, (conninfo: string) => string> = {
  bare: (c) => c,
  'create subscription': (c) => `create subscription ferry_shop_t2s connection ${literal(c)} publication ferry_shop_t2s\n with (copy_data = false)`,
  'error message': (c) => `source database (${c}): connect: password authentication failed for user "app" [SQLSTATE 28P01]`,
  json: (c) => JSON.stringify({ message: `could not connect to ${c}`, conninfo: c }),
};

/** A template with a placeholder password, so a password that happens to be ordinary text of the message is not counted. */
const PLACEHOLDER = 'PLACEHOLDERPW';

/** The password in every form it could show: as typed, percent-encoded, SQL-quoted, JSON-escaped. */
function leaks(out: string, p: string): string[] {
  const forms = new Set([p, encodeURIComponent(p), p.replace(/'/g, "''"), JSON.stringify(p).slice(1, -1)]);
  return [...forms].filter((form) => out.includes(form));
}

for (const [formName, form] of Object.entries(FORMS)) {
  for (const [contextName, context] of Object.entries(CONTEXTS)) {
    test(`${formName} in ${contextName}: no password by shape alone, none with the connection known`, () => {
      fc.assert(
        fc.property(password, (p) => {
          const template = context(form(PLACEHOLDER));
          fc.pre(leaks(template.replace(PLACEHOLDER, ''), p).length === 0);
          const text = context(form(p));
          // By shape alone (text from anywhere: a log line, a report).
          assert.deepEqual(leaks(redact(text), p), [], redact(text));
          // With the connection string known, as every data error path has it.
          const redactor = new Redactor([form(p)]);
          const out = redactor.text(text);
          assert.deepEqual(leaks(out, p), [], out);
          // Cut after redaction, as the error's statement is.
          assert.deepEqual(leaks(out.slice(0, 80), p), []);
          assert.ok(out.includes(MASK));
        }),
        { numRuns: 300 },
      );
    });
  }
}

test('the password parsed from each form is the one the server receives', () => {
  fc.assert(
    fc.property(password, (p) => {
      for (const form of Object.values(FORMS)) assert.equal(passwordOf(form(p)), p, form(p));
    }),
    { numRuns: 300 },
  );
});

test('unencoded passwords in a URI (not valid, but typed) are hidden once the connection is known', () => {
  fc.assert(
    fc.property(password, (p) => {
      const url = `postgresql://app:${p}@db.internal:5432/shop`;
      fc.pre(!`postgresql://app:@db.internal:5432/shop`.includes(p));
      const redactor = new Redactor([url]);
      for (const context of Object.values(CONTEXTS)) assert.deepEqual(leaks(redactor.text(context(url)), p), []);
    }),
    { numRuns: 300 },
  );
});

test('an error is redacted everywhere it is kept: message, fix, location and the cause --debug prints', () => {
  fc.assert(
    fc.property(password, (p) => {
      const url = `postgresql://app:${encodeURIComponent(p)}@db/shop`;
      const cause = Object.assign(new Error(`could not connect: ${url}`), { code: '08006' });
      const error = new FerryError('data.postgres', `create subscription x connection ${literal(url)}`, { fix: `check ${url}`, location: { field: url }, cause });
      const out = new Redactor([url]).error(error);
      const shown = [out.message, out.fix, out.location.field, out.stack, (out.cause as Error).message, (out.cause as Error).stack].join('\n');
      fc.pre(!'create subscription x connection check could not connect: app db shop data.postgres FerryError Error at'.includes(p));
      assert.deepEqual(leaks(shown, p), []);
      assert.equal((out.cause as { code?: string }).code, '08006', 'SQLSTATE kept for callers that branch on it');
      // A raw (non-Ferry) error becomes a FerryError too.
      const raw = redactError(new TypeError(`bad ${url}`), []);
      assert.ok(raw instanceof FerryError);
      assert.deepEqual(leaks(raw.message, p), []);
    }),
    { numRuns: 200 },
  );
});

test('a short password is hidden wherever its shape shows it', () => {
  const url = 'postgresql://app:ab@db/shop';
  const text = `create subscription s connection ${literal(url)} publication s`;
  assert.equal(new Redactor([url]).text(text).slice(0, 80), `create subscription s connection 'postgresql://app:***@db/shop' publication s`);
  assert.equal(redact("connection 'host=db password=''x y'' dbname=d'"), "connection 'host=db password=*** dbname=d'");
  assert.equal(redact('{"password": "hunter2", "user": "app"}'), '{"password": "***", "user": "app"}');
});
