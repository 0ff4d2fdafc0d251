import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { defaultKeyFile, FileKeyStore } from '../../../src/journal/keys/file.js';
import { JournalKey } from '../../../src/journal/key.js';

const dir = () => mkdtempSync(join(tmpdir(), 'ferry-key-'));

test('the default key is per user: $XDG_CONFIG_HOME/ferry/journal.key, else ~/.config/ferry/journal.key', () => {
  assert.equal(defaultKeyFile({ XDG_CONFIG_HOME: '/x/config', HOME: '/home/a' }), '/x/config/ferry/journal.key');
  assert.equal(defaultKeyFile({ HOME: '/home/a' }), '/home/a/.config/ferry/journal.key');
});

test('a missing key file is created with 32 random bytes, 0600 in a 0700 directory; reading never creates one', async () => {
  const file = join(dir(), 'conf', 'ferry', 'journal.key');
  const store = new FileKeyStore(file);
  assert.equal(await store.read(), undefined);
  assert.throws(() => statSync(file), /ENOENT/);
  const key = await store.obtain();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
  assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  assert.equal((await new FileKeyStore(file).obtain()).id, key.id, 'the second use reads the same key');
});

test('runs starting at once end up with one key', async () => {
  const file = join(dir(), 'journal.key');
  const script = `import { FileKeyStore } from '${new URL('../../../src/journal/keys/file.ts', import.meta.url).pathname}'; process.stdout.write(new FileKeyStore(process.argv[1]).obtainSync().id);`;
  const ids = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', () => resolve(out));
  })));
  assert.equal(new Set(ids).size, 1, ids.join(' '));
  assert.match(ids[0]!, /^[0-9a-f]{16}$/);
});

test('an operator key shorter than 32 bytes is refused, saying how to make one', async () => {
  const file = join(dir(), 'short.key');
  writeFileSync(file, 'hunter2\n');
  await assert.rejects(new FileKeyStore(file).obtain(), (error: Error) => /7 bytes; at least 32 are needed/.test(error.message) && !error.message.includes('hunter2'));
});

test('the key never shows when printed, logged or serialized; only its id does', () => {
  const secret = Buffer.from('a-very-secret-journal-key-0123456789-abcdef');
  const key = new JournalKey(secret, '/etc/ferry/journal.key');
  for (const shown of [JSON.stringify(key), inspect(key), String(key), `${key}`, JSON.stringify({ key }), inspect({ nested: { key } })]) {
    assert.ok(!shown.includes('very-secret'), shown);
    assert.ok(!shown.includes(secret.toString('base64')), shown);
    assert.ok(!shown.includes(secret.toString('hex')), shown);
  }
  assert.match(String(key), /^journal key [0-9a-f]{16} \(\/etc\/ferry\/journal\.key\)$/);
});
