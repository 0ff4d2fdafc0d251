/**
 * Notifications against real HTTP receivers on loopback: signed bodies a receiver can verify,
 * Slack's incoming-webhook shape, retries that honour Retry-After, order per receiver, and
 * `notify` returning at once whatever the receiver does.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JournalRecord } from '../../../src/journal/record.js';
import { Notifier, type ResolvedReceiver } from '../../../src/notify/index.js';
import { notificationsSchema } from '../../../src/notify/schema.js';
import { parsePlan } from '../../../src/plan/load.js';
import { validatePlanMeaning } from '../../../src/plan/validate.js';
import { toYamlText } from '../../../src/util/output.js';
import { startWebhookReceiver, stopWebhookReceivers, verifySignature } from '../../helpers/webhook-receiver.js';

after(stopWebhookReceivers);

const closedPort = async (): Promise<string> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/down`;
};

function receiverOf(name: string, url: string, extra: Partial<ResolvedReceiver> = {}): { name: string; resolved: Promise<ResolvedReceiver> } {
  return { name, resolved: Promise.resolve({ name, type: 'webhook', url, timeoutMs: 2000, retries: 3, giveUpAfterMs: 20_000, ...extra }) };
}

let seq = 0;
const record = (type: string, data: Record<string, unknown>): JournalRecord => ({ seq: ++seq, at: new Date().toISOString(), type, actor: 'ferry', data, prev: '', hash: '' });

test('a webhook gets each notification once, in order, signed so the receiver can verify it; skipped stages and samples are not told', async () => {
  const hook = await startWebhookReceiver((_request, _index, response) => response.writeHead(204).end());
  const notifier = new Notifier([receiverOf('ops', hook.url, { secret: 'k3y' })], { run: 'r1', plan: 'shop', log: () => undefined });
  notifier.notify(record('run-started', { plan: 'shop', run: 'r1' }));
  notifier.notify(record('stage-skipped', { slice: 'ads', stage: 'data-sync' }));
  notifier.notify(record('stage-started', { slice: 'ads', stage: 'ramp' }));
  notifier.notify(record('ramp-sample', { slice: 'ads', weight: 10 }));
  notifier.notify(record('approval-requested', { slice: 'ads', approvers: ['alice', 'bob'] }));
  notifier.notify(record('run-completed', { run: 'r1' }));
  const reports = await notifier.flush(5000);
  assert.deepEqual(reports, [{ name: 'ops', delivered: 4, undelivered: 0 }]);
  const bodies = hook.received.map((request) => JSON.parse(request.body));
  assert.deepEqual(bodies.map((body) => body.event), ['run-started', 'stage-changed', 'approval-needed', 'run-completed']);
  assert.deepEqual(bodies.map((body) => body.seq), [1, 3, 5, 6]);
  assert.equal(bodies[2].summary, 'slice ads waits for alice or bob: `ferry approve r1 ads`');
  assert.deepEqual({ run: bodies[1].run, plan: bodies[1].plan, slice: bodies[1].slice, stage: bodies[1].stage }, { run: 'r1', plan: 'shop', slice: 'ads', stage: 'ramp' });
  for (const request of hook.received) {
    assert.ok(verifySignature('k3y', request), 'the signature verifies');
    assert.equal(verifySignature('other', request), false);
    assert.equal(verifySignature('k3y', { ...request, body: request.body.replace('r1', 'r2') }), false, 'a changed body does not verify');
  }
  assert.deepEqual(hook.received.map((request) => request.headers['x-ferry-delivery']), ['r1.1', 'r1.3', 'r1.5', 'r1.6']);
});

test('a receiver answering 503 (Retry-After: 1) gets the notification on a later attempt, and the next one only after it', async () => {
  const hook = await startWebhookReceiver((_request, index, response) => {
    if (index === 0) response.writeHead(503, { 'retry-after': '1' }).end();
    else response.writeHead(200).end('ok');
  });
  const notifier = new Notifier([receiverOf('flaky', hook.url)], { run: 'r2', plan: 'shop', log: () => undefined });
  notifier.notify(record('run-started', { plan: 'shop', run: 'r2' }));
  notifier.notify(record('run-completed', { run: 'r2' }));
  assert.deepEqual(await notifier.flush(10_000), [{ name: 'flaky', delivered: 2, undelivered: 0 }]);
  assert.deepEqual(hook.received.map((request) => JSON.parse(request.body).event), ['run-started', 'run-started', 'run-completed']);
  assert.ok(hook.received[1]!.arrivedAt - hook.received[0]!.arrivedAt >= 950, 'Retry-After is honoured');
  assert.equal(hook.received[0]!.headers['x-ferry-delivery'], hook.received[1]!.headers['x-ferry-delivery'], 'a retry keeps its delivery id');
});

test('a receiver that is down or hangs costs notify nothing; the flush is bounded and says what was not delivered, without the URL', async () => {
  const hangs = await startWebhookReceiver(() => undefined);
  const fine = await startWebhookReceiver((_request, _index, response) => response.writeHead(200).end());
  const lines: string[] = [];
  const notifier = new Notifier([receiverOf('down', await closedPort(), { retries: 1 }), receiverOf('hangs', hangs.url), receiverOf('fine', fine.url)], { run: 'r3', plan: 'shop', log: (line) => lines.push(line) });
  const started = performance.now();
  for (let i = 0; i < 50; i++) notifier.notify(record('weight-set', { slice: 'ads', weight: i }));
  const notifyMs = performance.now() - started;
  assert.ok(notifyMs < 50, `50 notify calls took ${notifyMs} ms`);
  const flushStarted = Date.now();
  const reports = await notifier.flush(1500);
  assert.ok(Date.now() - flushStarted < 3000, 'the flush is bounded');
  const byName = Object.fromEntries(reports.map((report) => [report.name, report]));
  assert.deepEqual({ delivered: byName.fine!.delivered, undelivered: byName.fine!.undelivered }, { delivered: 50, undelivered: 0 }, 'a bad receiver does not hold up a good one');
  assert.equal(byName.down!.delivered + byName.hangs!.delivered, 0);
  assert.equal(byName.down!.undelivered, 50);
  assert.equal(byName.hangs!.undelivered, 50);
  assert.ok(lines.some((line) => line.includes('to down not delivered') && line.includes('ECONNREFUSED')), lines.join('\n'));
  assert.ok(!lines.join('\n').includes('secret-part') && !lines.join('\n').includes('/down'), 'no URL in the logs');
});

test('Slack receivers get incoming-webhook messages (text and blocks, mrkdwn escaped)', async () => {
  const slack = await startWebhookReceiver((_request, _index, response) => response.writeHead(200).end('ok'));
  const notifier = new Notifier([{ name: 'chat', resolved: Promise.resolve({ name: 'chat', type: 'slack', url: slack.url, timeoutMs: 2000, retries: 1, giveUpAfterMs: 5000 }) }], { run: 'r4', plan: 'shop', log: () => undefined });
  notifier.notify(record('rolled-back', { slice: 'ads', weightBefore: 30, detectionMs: 1200, recoveryMs: 250 }));
  notifier.notify(record('run-failed', { run: 'r4', error: 'gates <failed> & stopped' }));
  await notifier.flush(5000);
  const [rolled, failed] = slack.received.map((request) => JSON.parse(request.body));
  assert.equal(rolled.text, 'Ferry r4: slice ads failed its gates at 30 % and was rolled back: detected 1.2 s after onset, users back on the source 0.3 s later');
  assert.equal(rolled.blocks[0].type, 'section');
  assert.match(failed.blocks[0].text.text, /gates &lt;failed&gt; &amp; stopped/);
  assert.equal(slack.received[0]!.headers['x-ferry-signature'], undefined);
});

test('spec.notifications: a URL or a reference, secrets only as references, unique names, events by name', () => {
  assert.equal(notificationsSchema.safeParse([{ name: 'ops', type: 'webhook', url: 'https://hooks.example.com/ferry', secret: 'env:FERRY_HOOK_KEY', events: ['rolled-back'] }]).success, true);
  assert.equal(notificationsSchema.safeParse([{ name: 'chat', type: 'slack', urlFrom: 'secret:ops/slack/url' }]).success, true);
  assert.equal(notificationsSchema.safeParse([{ name: 'ops', type: 'webhook', url: 'https://h.example.com', secret: 'plain-key' }]).success, false, 'a key in the plan');
  assert.equal(notificationsSchema.safeParse([{ name: 'ops', type: 'webhook' }]).success, false, 'no URL');
  assert.equal(notificationsSchema.safeParse([{ name: 'ops', type: 'webhook', url: 'https://a.example.com' }, { name: 'ops', type: 'slack', urlFrom: 'env:X' }]).success, false, 'names repeat');
  assert.equal(notificationsSchema.safeParse([{ name: 'ops', type: 'webhook', url: 'https://a.example.com', events: ['stage-moved'] }]).success, false, 'unknown event');
});

test('ferry validate warns of a Slack webhook URL written in the plan (it is a secret), not of one read from a reference', () => {
  const planWith = (receiver: Record<string, unknown>) => parsePlan(toYamlText({
    apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'shop' },
    spec: {
      source: { context: 'source' }, target: { context: 'target' }, notifications: [receiver],
      defaults: { traffic: { steps: [100], stepWindow: '1s' }, gates: {}, analysis: {}, rollback: {}, decommission: {} },
      waves: [{ name: 'wave-1', slices: [{ name: 'web', namespace: 'shop', workloads: [], resources: [] }] }],
    },
  }), 'plan.yaml').plan;
  const written = validatePlanMeaning(planWith({ name: 'chat', type: 'slack', url: 'https://hooks.slack.example/services/T0/B0/xyz' }));
  assert.deepEqual(written.map((problem) => [problem.severity, problem.field]), [['warning', 'spec.notifications[0].url']]);
  assert.match(written[0]!.fix, /urlFrom: env:NAME/);
  assert.ok(!JSON.stringify(written).includes('xyz'), 'the warning does not repeat the URL');
  assert.deepEqual(validatePlanMeaning(planWith({ name: 'chat', type: 'slack', urlFrom: 'env:SLACK_URL' })), []);
  assert.deepEqual(validatePlanMeaning(planWith({ name: 'ops', type: 'webhook', url: 'https://hooks.example.com/ferry' })), []);
});
