/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) during real lab
 * runs: a slice that names approvers waits; the page shows it held; Pause stops the process
 * driving it and Resume drives it on in the dashboard's own process; its Approve button
 * approves as the person whose credentials started `ferry ui` (alice, as the target cluster
 * says: SelfSubjectReview), and the page then shows the weight moving and the run completing.
 * Then `ferry run --ui` serves the same page from the driving process. Screenshots are kept in
 * the test's lab directory; any console error or page error fails the test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { addLabUser } from '../../../src/lab/lab-users.js';
import { waitFor } from '../run/ramp-helpers.js';
import { resetRoute, startRunStage, type RunStage } from '../run/stage.js';

let stage: RunStage;
let browser: Browser;
let shots: string;

before(async () => {
  stage = await startRunStage(['target']);
  shots = join(stage.lab.dir, 'screenshots');
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await stage?.stop();
});

/** A page that records every console error and uncaught exception. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

/** waitFor for a condition: resolves once `check` is true. */
const until = (what: string, check: () => boolean, timeoutMs = 60_000): Promise<true> => waitFor(what, () => check() || undefined, timeoutMs, 100);

/** Prometheus has scraped the router under load: the judge (and the page's charts) will have requests to show. */
async function prometheusSeesLoad(): Promise<void> {
  const query = `${stage.prometheus.url}/api/v1/query?query=${encodeURIComponent('sum(ferry_router_requests_total{route="ads"}) > 0')}`;
  const deadline = Date.now() + 30_000;
  while (((await (await fetch(query)).json()) as any).data.result.length === 0) {
    if (Date.now() > deadline) throw new Error('Prometheus never saw the router\'s requests');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const text = (page: Page, testId: string) => page.getByTestId(testId).textContent({ timeout: 60_000 });

test('ferry ui: a held slice is paused, resumed by the dashboard and approved from the page as the user who started it; the page shows the weight move and the run complete; roll back from the page takes it back', async (t) => {
  const stateDir = join(stage.lab.dir, 'state-ui');
  const plan = await stage.writePlan('ui', (_plan, slice) => {
    slice.approvers = ['alice'];
  });
  const alice = await addLabUser(stage.lab.kubeconfigFile, { context: 'target', username: 'alice' });
  const ui = stage.ferry(['ui', '--state-dir', stateDir, '--context', alice.context, '-o', 'json']);
  const load = stage.load({ rate: 60 });
  await prometheusSeesLoad();
  const run = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
  const { page, problems } = await openPage();
  try {
    await until('the dashboard URL', () => ui.stdout.includes('}') || ui.child.exitCode !== null, 30_000);
    const { url, port } = JSON.parse(ui.stdout);
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{43}$`), `the printed URL has the token's shape: ${url.replace(/token=[^&]*/, 'token=…')}`);

    await page.goto(url);
    // The token went into a cookie; the address bar no longer shows it.
    assert.equal(new URL(page.url()).search, '');
    await until('the run to wait for alice', () => /waiting for alice/.test(run.stderr) || run.child.exitCode !== null);
    const id = readdirSync(join(stateDir, 'runs'))[0]!;
    await page.getByRole('link', { name: id }).click({ timeout: 10_000 });

    const approve = page.getByTestId('approve-adservice');
    await approve.waitFor({ timeout: 30_000 });
    assert.equal(await text(page, 'run-status'), 'waiting-approval');
    assert.equal(await text(page, 'weight-adservice'), '0%');
    await page.screenshot({ path: join(shots, '1-held.png'), fullPage: true });

    // Paused from the page while held: the driving process stops; the dashboard's own process resumes it.
    await page.getByTestId('pause').click();
    assert.equal(await run.closed, 1, run.stderr);
    assert.equal(JSON.parse(run.stdout).status, 'paused');
    await page.getByTestId('run-status').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
    const resume = page.getByTestId('resume');
    await page.waitForFunction(() => !(document.querySelector('[data-testid="resume"]') as HTMLButtonElement).disabled, undefined, { timeout: 10_000 });
    await resume.click();
    await page.getByTestId('message').filter({ hasText: 'resume started' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('run-status').filter({ hasText: 'waiting-approval' }).waitFor({ timeout: 30_000 });

    await approve.click();
    await page.getByTestId('message').filter({ hasText: 'approval of adservice by alice recorded' }).waitFor({ timeout: 20_000 });
    // The weight changes on the page as the run ramps (live over server-sent events).
    await page.waitForFunction(() => ['50%', '100%'].includes(document.querySelector('[data-testid="weight-adservice"]')?.textContent ?? ''), undefined, { timeout: 60_000 });
    await page.screenshot({ path: join(shots, '2-ramping.png'), fullPage: true });
    await page.getByTestId('run-status').filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    assert.equal(await text(page, 'weight-adservice'), '100%');
    await until('the dashboard to say the run completed', () => /run \S+: completed/.test(ui.stderr), 10_000);
    // The charts drew every ramp sample of the journal (uPlot canvases), with the requests each side served.
    const samples = stage.journal(stateDir, id).filter((record) => record.type === 'ramp-sample');
    assert.ok(samples.some((record) => record.data.source.requests > 0 && record.data.target.requests > 0), 'both sides served requests during the ramp');
    assert.equal(await page.locator('#chart-rps').getAttribute('data-samples'), String(samples.length));
    assert.ok(await page.locator('#chart-rps canvas').count() > 0, 'requests/s chart drawn');
    assert.ok(await page.locator('#chart-weights canvas').count() > 0, 'weights chart drawn');
    await page.getByTestId('audit').getByText('alice').first().waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(shots, '3-completed.png'), fullPage: true });
    t.diagnostic(`screenshots in ${shots}`);

    const records = stage.journal(stateDir, id);
    assert.deepEqual(records.filter((record) => ['run-paused', 'run-resumed', 'approved', 'run-completed'].includes(record.type)).map((record) => `${record.type} ${record.actor}`), ['run-paused alice', 'run-resumed ferry', 'approved alice', 'run-completed ferry']);

    // Roll back from the page (after its confirmation): the dashboard's process takes the slice back to the source.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.waitForFunction(() => !(document.querySelector('[data-testid="rollback"]') as HTMLButtonElement).disabled, undefined, { timeout: 10_000 });
    await page.getByTestId('rollback').click();
    await page.getByTestId('run-status').filter({ hasText: 'rolled-back' }).waitFor({ timeout: 60_000 });
    assert.equal(await text(page, 'weight-adservice'), '0%');
    assert.equal((await stage.route()).weights.target, 0, 'the router sends nothing to the target any more');
    await page.screenshot({ path: join(shots, '4-rolled-back.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    const users = await load.stop();
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    ui.child.kill('SIGTERM');
    await ui.closed;
    assert.equal(users.failed, 0, users.failures.slice(0, 3).join('; '));
  }
});

test('ferry run --ui: the driving process serves the dashboard; its token approves as that process\'s user', async () => {
  await resetRoute(stage);
  const stateDir = join(stage.lab.dir, 'state-run-ui');
  const plan = await stage.writePlan('runui', (_plan, slice) => {
    slice.approvers = ['kubernetes-admin'];
  });
  const load = stage.load({ rate: 60 });
  await prometheusSeesLoad();
  const run = stage.ferry(['run', plan, '--state-dir', stateDir, '--ui', '-o', 'json']);
  const { page, problems } = await openPage();
  try {
    await until('the dashboard URL', () => /dashboard: http/.test(run.stderr) || run.child.exitCode !== null, 30_000);
    const url = /dashboard: (\S+)/.exec(run.stderr)![1]!;
    await until('the run to wait for its approver', () => /waiting for kubernetes-admin/.test(run.stderr) || run.child.exitCode !== null);
    const id = readdirSync(join(stateDir, 'runs'))[0]!;
    await page.goto(url);
    await page.getByRole('link', { name: id }).click({ timeout: 10_000 });
    await page.getByTestId('approve-adservice').click({ timeout: 30_000 });
    await page.waitForFunction(() => ['50%', '100%'].includes(document.querySelector('[data-testid="weight-adservice"]')?.textContent ?? ''), undefined, { timeout: 60_000 });
    await page.getByTestId('run-status').filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    await page.screenshot({ path: join(shots, '5-run-ui-completed.png'), fullPage: true });
    assert.equal(await run.closed, 0, run.stderr);
    assert.equal(stage.journal(stateDir, id).find((record) => record.type === 'approved').actor, 'kubernetes-admin');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await load.stop();
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});
