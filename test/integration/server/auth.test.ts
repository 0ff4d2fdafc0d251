/**
 * The dashboard's doors: without its token (none, a wrong one, or another dashboard's) every
 * endpoint that changes a run answers 401 and changes nothing — the run's control requests and
 * journal stay byte for byte as they were — and every read endpoint answers 401 too. With the
 * token the same requests do reach the run (so the 401s above are not a broken server), a
 * cross-site request is refused, and a team member's token approves under their name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../../src/journal/journal.js';
import { FileAnchor } from '../../../src/journal/anchors/file.js';
import { FileKeyStore } from '../../../src/journal/keys/file.js';
import { parsePlan } from '../../../src/plan/load.js';
import { createRun, runFiles, type RunFiles } from '../../../src/run/store.js';
import { RunMetrics } from '../../../src/server/metrics.js';
import { startUiServer, type UiServer } from '../../../src/server/server.js';
import { toYamlText } from '../../../src/util/output.js';

let dir: string;
let files: RunFiles;
let server: UiServer;
let other: UiServer;
const BOB_TOKEN = 'bob-team-token-0123456789';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-ui-auth-'));
  const { plan } = parsePlan(toYamlText({
    apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'shop' },
    spec: {
      source: { context: 'source' }, target: { context: 'target' },
      defaults: { traffic: { steps: [50, 100], stepWindow: '2s' }, gates: {}, analysis: {}, rollback: {}, decommission: { after: '1s' } },
      waves: [{ name: 'wave-1', slices: [{ name: 'web', namespace: 'shop', workloads: [], resources: [], approvers: ['bob'], traffic: { provider: { type: 'router', adminUrl: 'http://127.0.0.1:1', route: 'web' } } }] }],
    },
  }), 'plan.yaml');
  files = createRun(join(dir, 'state'), plan);
  const journal = Journal.open(files.journal, { keys: new FileKeyStore(join(dir, 'journal.key')), anchor: new FileAnchor(join(dir, 'anchors')) });
  journal.append('run-started', { plan: 'shop', run: files.id });
  journal.append('approval-requested', { slice: 'web', approvers: ['bob'] });
  await journal.close();
  writeFileSync(join(dir, 'tokens.yaml'), `bob: sha256:${createHash('sha256').update(BOB_TOKEN).digest('hex')}\n`);
  server = await startUiServer({ stateDir: join(dir, 'state'), tokensFile: join(dir, 'tokens.yaml'), metrics: new RunMetrics() });
  other = await startUiServer({ stateDir: join(dir, 'state') });
});

after(async () => {
  await server?.close();
  await other?.close();
  rmSync(dir, { recursive: true, force: true });
});

const MUTATIONS = [
  { action: 'approve', body: { slice: 'web' } },
  { action: 'pause', body: {} },
  { action: 'abort', body: {} },
  { action: 'resume', body: {} },
  { action: 'rollback', body: {} },
];

const snapshot = () => ({
  journal: readFileSync(files.journal, 'utf8'),
  control: existsSync(files.control) ? readFileSync(files.control, 'utf8') : '(none)',
  lock: existsSync(files.lock) ? readFileSync(files.lock, 'utf8') : '(none)',
});

async function post(action: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.origin}/api/runs/${files.id}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

const WITHOUT = [
  { name: 'no token', headers: (): Record<string, string> => ({}) },
  { name: 'a wrong token', headers: () => ({ authorization: `Bearer ${server.token.slice(0, -2)}xx` }) },
  { name: 'a wrong cookie', headers: () => ({ cookie: `ferry-ui-${server.port}=not-the-token` }) },
  { name: "another dashboard's token", headers: () => ({ authorization: `Bearer ${other.token}` }) },
  { name: "another dashboard's cookie", headers: () => ({ cookie: `ferry-ui-${server.port}=${other.token}` }) },
];

for (const { action, body } of MUTATIONS) {
  for (const without of WITHOUT) {
    test(`POST ${action} with ${without.name}: 401, nothing changes`, async () => {
      const before = snapshot();
      const answer = await post(action, body, without.headers());
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.match(answer.body.error, /no valid token/);
      // A drive would have taken the lock; a request would be in control.jsonl.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(snapshot(), before);
    });
  }
}

test('every read endpoint needs the token too', async () => {
  for (const path of ['/api/session', '/api/runs', `/api/runs/${files.id}`, `/api/runs/${files.id}/events`, '/metrics']) {
    for (const without of WITHOUT) {
      const response = await fetch(`${server.origin}${path}`, { headers: without.headers() });
      assert.equal(response.status, 401, `${path} with ${without.name}`);
      await response.body?.cancel();
    }
  }
});

test('the printed URL trades its token for an HttpOnly SameSite=Strict cookie; a wrong one gets none', async () => {
  const good = await fetch(server.url, { redirect: 'manual' });
  assert.equal(good.status, 303);
  assert.equal(good.headers.get('location'), '/');
  const cookie = good.headers.get('set-cookie')!;
  assert.match(cookie, new RegExp(`^ferry-ui-${server.port}=`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const runs = await fetch(`${server.origin}/api/runs`, { headers: { cookie: cookie.split(';')[0]! } });
  assert.equal(runs.status, 200);
  assert.deepEqual((await runs.json()).map((r: any) => r.id), [files.id]);

  const bad = await fetch(`${server.origin}/?token=${other.token}`, { redirect: 'manual' });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get('set-cookie'), null);
});

test('with the token: a cross-site request and a GET are refused; pause and approve reach the run; resume says who drives it', async () => {
  const token = { authorization: `Bearer ${server.token}` };
  const before = snapshot();
  assert.equal((await post('pause', {}, { ...token, origin: 'http://evil.example' })).status, 403);
  const form = await fetch(`${server.origin}/api/runs/${files.id}/pause`, { method: 'POST', headers: { ...token, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
  assert.equal(form.status, 415);
  const get = await fetch(`${server.origin}/api/runs/${files.id}/pause`, { headers: token });
  assert.equal(get.status, 405);
  assert.deepEqual(snapshot(), before);

  const paused = await post('pause', {}, { ...token, origin: server.origin });
  assert.equal(paused.status, 202, JSON.stringify(paused.body));
  assert.deepEqual(readFileSync(files.control, 'utf8').trim().split('\n').map((line) => JSON.parse(line)), [{ action: 'pause' }]);

  // bob's team token approves as bob (the tokens file's name for it), as `ferry approve` would write it.
  const approved = await post('approve', { slice: 'web' }, { authorization: `Bearer ${BOB_TOKEN}` });
  assert.equal(approved.status, 202, JSON.stringify(approved.body));
  assert.deepEqual(approved.body, { run: files.id, requested: 'approve', slice: 'web', by: 'bob' });
  assert.deepEqual(JSON.parse(readFileSync(files.control, 'utf8').trim().split('\n')[1]!), { action: 'approve', slice: 'web', by: 'bob' });

  // A process holds the run (this test's): resume and roll back say so and drive nothing.
  writeFileSync(runFiles(join(dir, 'state'), files.id).lock, String(process.pid));
  try {
    for (const action of ['resume', 'rollback']) {
      const refused = await post(action, {}, token);
      assert.equal(refused.status, 409);
      assert.match(refused.body.error, new RegExp(`being driven by process ${process.pid}`));
    }
  } finally {
    rmSync(files.lock, { force: true });
  }
});

test("/metrics serves Ferry's own metrics of the state directory's runs to a bearer of the token", async () => {
  const response = await fetch(`${server.origin}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(response.status, 200);
  const text = await response.text();
  assert.match(text, new RegExp(`ferry_run_status\\{[^}]*run="${files.id}"[^}]*status="waiting-approval"[^}]*\\} 1`));
});
