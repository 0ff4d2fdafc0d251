/**
 * Raw HTTP against a lab cluster with the query spellings the official clients of other
 * languages send (Python `True`, C# `True`, Java `true&allowWatchBookmarks=false`, `1`, a bare
 * `?watch`): each must behave as kubectl's spelling does, and a value the real server cannot
 * convert must be refused as it refuses it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let agent: Agent;
let server: string;
let token: string;

before(async () => {
  lab = await startTestLab(['query']);
  // Everything a client needs comes from the kubeconfig, as for any other client.
  const kubeconfig = parse(readFileSync(lab.kubeconfigFile, 'utf8')) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
    users: Array<{ user: { token: string } }>;
  };
  server = kubeconfig.clusters[0]!.cluster.server;
  token = kubeconfig.users[0]!.user.token;
  agent = new Agent({ connect: { ca: Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString('utf8') } });
});

after(async () => {
  await agent?.close();
  await lab?.stop();
});

async function call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
  const response = await request(`${server}${path}`, {
    method: method as 'GET',
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType, 'user-agent': 'query-params-test/1.0' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

const CONFIGMAPS = '/api/v1/namespaces/default/configmaps';

test('every client spelling of watch gets a watch stream, every spelling of false a list', async (t) => {
  await call('POST', CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' }, data: { a: '1' } });
  const streams = ['watch=true' /* kubectl, Go */, 'watch=True' /* Python */, 'watch=1', 'watch=TRUE', 'watch', 'watch=true&allowWatchBookmarks=false' /* Java */, 'watch=True&allowWatchBookmarks=True'];
  for (const spelling of streams) {
    await t.test(spelling, async () => {
      const started = Date.now();
      const { status, text } = await call('GET', `${CONFIGMAPS}?${spelling}&timeoutSeconds=1`);
      assert.equal(status, 200);
      const events = text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; object: { metadata: { name: string } } });
      assert.deepEqual(events.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name), ['watched']);
      assert.ok(Date.now() - started >= 900, 'the stream stays open until timeoutSeconds');
    });
  }
  for (const spelling of ['watch=false', 'watch=False', 'watch=0', 'watch=FALSE']) {
    await t.test(spelling, async () => {
      const { status, json } = await call('GET', `${CONFIGMAPS}?${spelling}`);
      assert.equal(status, 200);
      assert.equal(json().kind, 'ConfigMapList');
    });
  }
});

test('every client spelling of force takes over a conflicting field in a server-side apply', async (t) => {
  const apply = (manager: string, value: string, force: string) =>
    call('PATCH', `${CONFIGMAPS}/owned?fieldManager=${manager}${force}`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned' }, data: { key: value } }, 'application/apply-patch+yaml');
  assert.equal((await apply('first', 'v0', '')).status, 201);
  const conflict = await apply('second', 'refused', '&force=false');
  assert.equal(conflict.status, 409, conflict.text);
  assert.match(conflict.json().message as string, /conflict/i);
  let round = 0;
  for (const spelling of ['force=true' /* kubectl, Go */, 'force=True' /* C#, Python */, 'force=1', 'force=t', 'force']) {
    await t.test(spelling, async () => {
      round++;
      const manager = round % 2 === 0 ? 'first' : 'second';
      const value = `v${round}`;
      const refused = await apply(manager, `${value}-unforced`, '');
      assert.equal(refused.status, 409, 'without force the other manager owns the field');
      const forced = await apply(manager, value, `&${spelling}`);
      assert.equal(forced.status, 200, forced.text);
      assert.deepEqual((forced.json().data as Record<string, string>), { key: value });
    });
  }
});

test('dryRun as a repeated list: nothing is stored', async () => {
  const created = await call('POST', `${CONFIGMAPS}?dryRun=All&dryRun=All`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry' } });
  assert.equal(created.status, 201);
  assert.equal((await call('GET', `${CONFIGMAPS}/dry`)).status, 404);
});

test('limit and continue in any spelling the server converts; pretty=True indents', async () => {
  for (const name of ['page-a', 'page-b', 'page-c']) await call('POST', CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
  const first = await call('GET', `${CONFIGMAPS}?limit=%2B2&labelSelector=&pretty=True`);
  assert.equal(first.status, 200);
  assert.match(first.text, /^\{\n {2}"kind": "ConfigMapList"/);
  const page = first.json() as { items: unknown[]; metadata: { continue?: string } };
  assert.equal(page.items.length, 2);
  assert.ok(page.metadata.continue);
  const rest = await call('GET', `${CONFIGMAPS}?limit=100&continue=${page.metadata.continue}`);
  assert.ok((rest.json().items as unknown[]).length >= 1);
});

test('values the real server cannot convert or refuses are refused with a Status naming the parameter', async (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['GET', `${CONFIGMAPS}?limit=ten`, 400, /limit: strconv.ParseInt: parsing "ten": invalid syntax/],
    ['GET', `${CONFIGMAPS}?watch=1&timeoutSeconds=1.5`, 400, /timeoutSeconds: strconv.ParseInt: parsing "1.5": invalid syntax/],
    ['GET', `${CONFIGMAPS}?resourceVersionMatch=NotOlderThan`, 422, /resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided/],
    ['DELETE', `${CONFIGMAPS}/watched?gracePeriodSeconds=now`, 400, /gracePeriodSeconds: strconv.ParseInt/],
    ['DELETE', `${CONFIGMAPS}/watched?propagationPolicy=foreground`, 422, /propagationPolicy: Unsupported value: "foreground"/],
    ['POST', `${CONFIGMAPS}?dryRun=true`, 422, /CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value/],
    ['POST', `${CONFIGMAPS}?fieldValidation=strict`, 422, /fieldValidation: Unsupported value: "strict"/],
  ];
  for (const [method, path, code, pattern] of cases) {
    await t.test(`${method} ${path.replace(CONFIGMAPS, '')}`, async () => {
      const answer = await call(method, path, method === 'POST' ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'refused' } } : undefined);
      assert.equal(answer.status, code, answer.text);
      const status = answer.json();
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, code);
      assert.match(status.message as string, pattern);
    });
  }
  assert.equal((await call('GET', `${CONFIGMAPS}/watched`)).status, 200, 'a refused delete deleted nothing');
});

test('deletion options from the query: orphanDependents=True keeps the dependents', async () => {
  const owner = (await call('POST', CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } })).json() as { metadata: { uid: string } };
  await call('POST', CONFIGMAPS, {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: 'dependent', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }] },
  });
  assert.equal((await call('DELETE', `${CONFIGMAPS}/owner?orphanDependents=True`)).status, 200);
  await lab.clusters[0]!.settled();
  const dependent = await call('GET', `${CONFIGMAPS}/dependent`);
  assert.equal(dependent.status, 200);
  assert.equal((dependent.json().metadata as { ownerReferences?: unknown[] }).ownerReferences?.length ?? 0, 0);
});

test('deletecollection reads its options too: dryRun=All deletes nothing, a bad limit is refused', async () => {
  await call('POST', CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', labels: { batch: 'b1' } } });
  assert.equal((await call('DELETE', `${CONFIGMAPS}?labelSelector=batch%3Db1&dryRun=All`)).status, 200);
  assert.equal((await call('GET', `${CONFIGMAPS}/kept`)).status, 200);
  assert.equal((await call('DELETE', `${CONFIGMAPS}?labelSelector=batch%3Db1&limit=x`)).status, 400);
  assert.equal((await call('DELETE', `${CONFIGMAPS}?labelSelector=batch%3Db1`)).status, 200);
  assert.equal((await call('GET', `${CONFIGMAPS}/kept`)).status, 404);
});
