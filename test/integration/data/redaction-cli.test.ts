/**
 * No database password in anything `ferry data` shows or writes, on the real error paths
 * against real PostgreSQL: a wrong password, an unreachable host, a database that does not
 * exist, a replication URL the server cannot reach at sync, and the issue's case — a cutover
 * whose reverse-replication URL is unreachable (its CREATE SUBSCRIPTION … CONNECTION text
 * used to be printed cut at 80 characters, a short password whole). Passwords are random
 * (fast-check) with quotes, @ : / % ? # & = \ spaces and unicode, given as URIs
 * (percent-encoded, with and without a user, ?password=) and as keyword/value conninfo.
 * stdout, stderr, every file under the command's working and home directory and both
 * servers' logs are searched for each password in every form it could take.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sql } from '../../helpers/pg.js';
import { REPO } from '../../helpers/cli.js';
import { startLocalPostgres, type LocalPostgres } from '../../../src/data/postgres/local-server.js';
import { literal } from '../../../src/data/postgres/sql.js';

let source: LocalPostgres;
let target: LocalPostgres;
let home: string;
const SEED = Number(process.env.FERRY_TEST_SEED ?? Date.now() % 1_000_000);

const CHARS = [..."@:/%'\" \\?#&=éß日Ж🚢", ...'abcdefghijkXYZ0123456789'];
const passwords = (count: number, seed: number) =>
  fc.sample(fc.array(fc.constantFrom(...CHARS), { minLength: 4, maxLength: 20 }).map((c) => c.join('')), { numRuns: count, seed });

function ferry(args: string[], timeoutMs = 90_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${REPO}/bin/ferry.js`, ...args], { env: { ...process.env, NO_COLOR: '1', HOME: home }, cwd: home });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every place the password could have gone, and every form it could take there. */
function assertNowhere(secrets: string[], out: { stdout: string; stderr: string }, what: string): void {
  const places: Array<[string, string]> = [
    ['stdout', out.stdout],
    ['stderr', out.stderr],
    ...filesUnder(home).map((file): [string, string] => [file, readFileSync(file, 'utf8')]),
    ['source server log', source.logTail(100_000)],
    ['target server log', target.logTail(100_000)],
  ];
  for (const secret of secrets) {
    const forms = new Set([secret, encodeURIComponent(secret), secret.replace(/'/g, "''")]);
    for (const [place, text] of places) {
      for (const form of forms) assert.ok(!text.includes(form), `${what}: the password ${JSON.stringify(secret)} appears in ${place} (seed ${SEED}):\n${text.slice(0, 2000)}`);
    }
  }
}

const uri = (server: LocalPostgres, password: string, database = 'postgres') => `postgresql://mover:${encodeURIComponent(password)}@127.0.0.1:${server.port}/${database}`;
const kv = (password: string, port: number) => `host=127.0.0.1 port=${port} user=mover dbname=postgres password='${password.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The role Ferry connects as gets a new random password on both servers. */
async function setPassword(password: string): Promise<void> {
  for (const server of [source, target]) {
    await sql(server.connectionString, `do $$ begin if not exists (select 1 from pg_roles where rolname = 'mover') then create role mover superuser login replication; end if; end $$; alter role mover password ${literal(password)}`);
  }
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'ferry-redact-'));
  [source, target] = await Promise.all([startLocalPostgres({ name: 'ferry-redact-src' }), startLocalPostgres({ name: 'ferry-redact-tgt' })]);
  await sql(source.connectionString, `create table public.accounts (id int primary key, owner text not null); insert into public.accounts select g, 'o' || g from generate_series(1, 500) g`);
});

after(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (home) rmSync(home, { recursive: true, force: true });
});

test('connection failures (wrong password, unreachable host, no such database) print no password', async () => {
  for (const [i, password] of passwords(4, SEED).entries()) {
    await setPassword(password);
    const [wrong] = passwords(1, SEED + 100 + i);
    const good = uri(target, password);

    const badPassword = await ferry(['data', 'check', '--source', uri(source, `${wrong!}x`), '--target', good]);
    assertNowhere([password, `${wrong!}x`], badPassword, 'wrong password');
    assert.equal(badPassword.code, 1);
    assert.match(badPassword.stderr, /source database \(postgresql:\/\/mover:\*\*\*@127\.0\.0\.1:\d+\/postgres\): connect: password authentication failed/);

    const unreachable = await ferry(['data', 'check', '--source', `postgresql://127.0.0.1:1/postgres?user=mover&password=${encodeURIComponent(password)}`, '--target', good]);
    assertNowhere([password], unreachable, 'unreachable host');
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /ECONNREFUSED/);

    const noDatabase = await ferry(['data', 'check', '--source', uri(source, password, 'no_such_db'), '--target', good, '-o', 'json']);
    assertNowhere([password], noDatabase, 'no such database');
    assert.equal(noDatabase.code, 1);
    assert.match(noDatabase.stderr, /database "no_such_db" does not exist/);

    const noUser = await ferry(['data', 'check', '--source', `postgresql://:${encodeURIComponent(password)}@127.0.0.1:${source.port}/postgres`, '--target', good]);
    assertNowhere([password], noUser, 'URI without user');
  }
});

test('replication URLs the server cannot reach, at sync and at cutover, print no password and leave no slot', async () => {
  for (const [i, password] of passwords(2, SEED + 7).entries()) {
    await setPassword(password);
    const [unreachablePassword] = passwords(1, SEED + 200 + i);
    const base = ['--name', 'redact', '--source', uri(source, password), '--target', uri(target, password)];

    // Sync: the target's CREATE SUBSCRIPTION gets a keyword/value conninfo to a closed port.
    const badSync = await ferry(['data', 'sync', ...base, '--copy-schema', '--source-replication-url', kv(unreachablePassword!, 1)]);
    assertNowhere([password, unreachablePassword!], badSync, 'sync with an unreachable replication URL');
    assert.equal(badSync.code, 1);
    assert.match(badSync.stderr, /create subscription ferry_redact_s2t connection 'host=127\.0\.0\.1 port=1 user=mover dbname=postgres password=\*\*\*/);
    assert.match(badSync.stderr, /could not connect to the publisher/);
    assert.equal((await sql(source.connectionString, `select * from pg_replication_slots`)).rowCount, 0, 'the slot made for the failed subscription is dropped');

    const sync = await ferry(['data', 'sync', ...base, '--wait', '--timeout', '60']);
    assertNowhere([password], sync, 'sync');
    assert.equal(sync.code, 0, sync.stderr);

    // The case: the reverse direction's URL is unreachable at cutover.
    const badCutover = await ferry(['data', 'cutover', ...base, '--target-replication-url', `postgresql://mover:${encodeURIComponent(unreachablePassword!)}@127.0.0.1:1/postgres`]);
    assertNowhere([password, unreachablePassword!], badCutover, 'cutover with an unreachable reverse URL');
    assert.equal(badCutover.code, 1);
    assert.match(badCutover.stderr, /create subscription ferry_redact_t2s connection 'postgresql:\/\/mover:\*\*\*@127\.0\.0\.1:1\/postgres'/);
    // Writes stay on the source, replicating to the target as before; no slot of the failed direction.
    const status = await ferry(['data', 'status', ...base, '-o', 'json']);
    assert.equal(JSON.parse(status.stdout).direction, 'ferry_redact_s2t');
    assert.equal(JSON.parse(status.stdout).enabled, true);
    assert.equal((await sql(target.connectionString, `select * from pg_replication_slots`)).rowCount, 0);
    await sql(source.connectionString, `insert into public.accounts values (${1000 + i}, 'after the failed cutover')`);

    const teardown = await ferry(['data', 'teardown', ...base]);
    assertNowhere([password], teardown, 'teardown');
    assert.equal(teardown.code, 0, teardown.stdout + teardown.stderr);
    for (const server of [source, target]) assert.equal((await sql(server.connectionString, 'select * from pg_replication_slots')).rowCount, 0);
    await sql(target.connectionString, `drop table public.accounts; drop schema if exists ferry cascade`);
  }
});
