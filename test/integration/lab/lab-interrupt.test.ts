import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../helpers/cli.js';

/** Every process whose command line names the lab dir (the daemon and its pods). */
function processesOf(dir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(dir) && !line.includes('ps -eo'));
}

test('interrupting `ferry lab up` before the lab is ready leaves no process behind', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ferry-lab-int-')), 'lab');
  const up = spawn(process.execPath, [`${REPO}/bin/ferry.js`, 'lab', 'up', '--dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  while (processesOf(dir).filter((line) => line.includes('daemon')).length === 0) {
    assert.ok(Date.now() < deadline, 'the lab daemon never started');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  up.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => up.on('exit', resolve));
  assert.equal(code, 130);
  const settle = Date.now() + 10_000;
  while (processesOf(dir).length > 0 && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(processesOf(dir), []);
});
