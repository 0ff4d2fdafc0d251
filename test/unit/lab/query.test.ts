import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/lab/api/status.js';
import { deleteQuery, isWatch, listQuery, parseGoBool, queryBool, queryInt, queryList, wantsPretty, writeQuery } from '../../../src/lab/api/query.js';

const q = (text: string) => new URLSearchParams(text);

function rejects(fn: () => unknown, code: number, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

test('booleans: the spellings of every official client', async (t) => {
  const cases: Array<[string, boolean | undefined, string]> = [
    ['watch=true', true, 'kubectl, Go, JavaScript'],
    ['watch=True', true, 'Python, C#'],
    ['watch=TRUE', true, 'upper case'],
    ['watch=1', true, 'numeric'],
    ['watch=t', true, 'ParseBool short form'],
    ['watch=yes', true, 'apimachinery: any other value is true'],
    ['watch=', true, 'apimachinery: an empty value is true'],
    ['watch', true, 'a bare parameter is true'],
    ['watch=false', false, 'false'],
    ['watch=False', false, 'Python False'],
    ['watch=FALSE', false, 'upper-case false'],
    ['watch=0', false, 'numeric false'],
    ['watch=0&watch=1', false, 'the first of repeated values'],
    ['', undefined, 'absent'],
  ];
  for (const [query, expected, why] of cases) {
    await t.test(`${query || '(none)'} → ${String(expected)} (${why})`, () => {
      assert.equal(queryBool(q(query), 'watch'), expected);
      assert.equal(isWatch(q(query)), expected === true);
    });
  }
});

test('integers: Go strconv.ParseInt base 10, 400 naming the parameter otherwise', async (t) => {
  const good: Array<[string, number]> = [['limit=500', 500], ['limit=%2B7', 7], ['limit=-1', -1], ['limit=007', 7], ['limit=9223372036854775807', Number(2n ** 63n - 1n)]];
  for (const [query, expected] of good) {
    await t.test(`${query} → ${expected}`, () => assert.equal(queryInt(q(query), 'limit'), expected));
  }
  const bad: Array<[string, RegExp]> = [
    ['limit=abc', /invalid query parameter limit: strconv.ParseInt: parsing "abc": invalid syntax/],
    ['limit=', /parsing "": invalid syntax/],
    ['limit=1.5', /invalid syntax/],
    ['limit=1e3', /invalid syntax/],
    ['limit=0x10', /invalid syntax/],
    ['limit=%201', /invalid syntax/],
    ['limit=1_000', /invalid syntax/],
    ['limit=9223372036854775808', /value out of range/],
  ];
  for (const [query, pattern] of bad) {
    await t.test(`${query} → 400`, () => rejects(() => queryInt(q(query), 'limit'), 400, pattern));
  }
  await t.test('timeoutSeconds and gracePeriodSeconds go through the same rule', () => {
    rejects(() => listQuery(q('watch=1&timeoutSeconds=ten')), 400, /timeoutSeconds: strconv.ParseInt/);
    rejects(() => deleteQuery(q('gracePeriodSeconds=soon'), undefined), 400, /gracePeriodSeconds/);
  });
});

test('lists: repeated parameters, no comma splitting', () => {
  assert.deepEqual(queryList(q('dryRun=All&dryRun=All'), 'dryRun'), ['All', 'All']);
  assert.equal(writeQuery(q('dryRun=All&dryRun=All'), 'create').dryRun, true);
  assert.equal(writeQuery(q(''), 'create').dryRun, false);
  rejects(() => writeQuery(q('dryRun=All,All'), 'create'), 422, /CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: \[\]string\{"All,All"\}: supported values: "All"/);
  rejects(() => writeQuery(q('dryRun=true'), 'update'), 422, /UpdateOptions.meta.k8s.io "" is invalid: dryRun/);
  rejects(() => deleteQuery(q('dryRun=server'), undefined), 422, /DeleteOptions.meta.k8s.io "" is invalid: dryRun/);
});

test('force: a boolean for server-side apply, forbidden on other patches', () => {
  assert.equal(writeQuery(q('fieldManager=m&force=True'), 'patch', true).force, true);
  assert.equal(writeQuery(q('fieldManager=m&force=1'), 'patch', true).force, true);
  assert.equal(writeQuery(q('fieldManager=m&force=false'), 'patch', true).force, false);
  rejects(() => writeQuery(q('force=true'), 'patch', false), 422, /PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch/);
  rejects(() => writeQuery(q('force=true'), 'patch', true), 422, /fieldManager: Required value: is required for apply patch/);
});

test('fieldValidation and fieldManager are validated as the server does', () => {
  assert.equal(writeQuery(q('fieldValidation=Strict'), 'create').fieldValidation, 'Strict');
  assert.equal(writeQuery(q('fieldValidation='), 'create').fieldValidation, undefined);
  rejects(() => writeQuery(q('fieldValidation=strict'), 'create'), 422, /fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"/);
  rejects(() => writeQuery(q(`fieldManager=${'m'.repeat(129)}`), 'update'), 422, /fieldManager: Too long: may not be more than 128 bytes/);
});

test('propagationPolicy and orphanDependents', () => {
  assert.equal(deleteQuery(q('propagationPolicy=Foreground'), undefined).propagationPolicy, 'Foreground');
  assert.equal(deleteQuery(q('orphanDependents=True'), undefined).propagationPolicy, 'Orphan');
  assert.equal(deleteQuery(q('orphanDependents=0'), undefined).propagationPolicy, 'Background');
  assert.equal(deleteQuery(q(''), undefined).propagationPolicy, undefined);
  rejects(() => deleteQuery(q('propagationPolicy=foreground'), undefined), 422, /propagationPolicy: Unsupported value: "foreground": supported values: "Foreground", "Background", "Orphan", "nil"/);
  rejects(() => deleteQuery(q('propagationPolicy=Orphan&orphanDependents=true'), undefined), 422, /orphanDependents and deletionPropagation cannot be both set/);
  // With a body, the options come from the body only (apiserver's delete handler).
  const fromBody = deleteQuery(q('propagationPolicy=Orphan&dryRun=All'), { propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } });
  assert.deepEqual(fromBody, { dryRun: false, gracePeriodSeconds: undefined, propagationPolicy: 'Foreground', preconditions: { uid: 'u1' } });
});

test('list and watch options: ValidateListOptions', () => {
  const list = listQuery(q('limit=2&continue=abc&labelSelector=app%3Dweb&allowWatchBookmarks=True'));
  assert.equal(list.limit, 2);
  assert.equal(list.continue, 'abc');
  assert.equal(list.labelSelector, 'app=web');
  assert.equal(list.allowWatchBookmarks, true);
  assert.equal(listQuery(q('limit=-5')).limit, 0);
  rejects(() => listQuery(q('resourceVersionMatch=NotOlderThan')), 422, /ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided/);
  rejects(() => listQuery(q('resourceVersion=1&resourceVersionMatch=Newest')), 422, /Unsupported value: "Newest"/);
  rejects(() => listQuery(q('sendInitialEvents=true')), 422, /sendInitialEvents is forbidden for list/);
  const watchList = listQuery(q('watch=1&sendInitialEvents=True&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=1'));
  assert.equal(watchList.watch, true);
  assert.equal(watchList.sendInitialEvents, true);
  rejects(() => listQuery(q('watch=true&sendInitialEvents=true')), 422, /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/);
  rejects(() => listQuery(q('watch=true&resourceVersionMatch=NotOlderThan')), 422, /resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided/);
});

test('pretty: Go strconv.ParseBool', () => {
  for (const value of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(value), true, value);
  for (const value of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(value), false, value);
  assert.equal(parseGoBool('yes'), undefined);
  assert.equal(wantsPretty(q('pretty=True')), true);
  assert.equal(wantsPretty(q('pretty=yes')), false);
  assert.equal(wantsPretty(q('')), false);
});
