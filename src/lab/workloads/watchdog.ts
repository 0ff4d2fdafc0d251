import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * One watchdog process per runtime kills the pods' process groups if this process dies
 * without cleaning up (SIGKILL, OOM, a crash in a native module) — exit handlers cannot run
 * then. It holds the read end of a pipe from us: when the pipe closes, or its parent pid
 * changes, the parent is gone. It is plain JavaScript run with `node -e` (no tsx start-up
 * cost) in its own process group, ignoring SIGINT so that Ctrl-C on the terminal's group
 * does not kill it before it has done its job.
 */
const WATCHDOG_SOURCE = String.raw`
const groups = new Set();
const parent = Number(process.argv[1]);
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
function signal(sig) { for (const pid of groups) { try { process.kill(-pid, sig); } catch {} } }
let reaping = false;
function reap() {
  if (reaping) return; reaping = true;
  signal('SIGTERM');
  setTimeout(() => { signal('SIGKILL'); process.exit(0); }, 2000);
}
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl); buffered = buffered.slice(nl + 1);
    const pid = Number(line.slice(1));
    if (line[0] === '+') groups.add(pid);
    else if (line[0] === '-') groups.delete(pid);
    else if (line === 'exit') process.exit(0);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
setInterval(() => { if (process.ppid !== parent) reap(); }, 500);
`;

export class Watchdog {
  private readonly child: ChildProcess;

  constructor() {
    this.child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(process.pid)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.child.on('error', () => {});
    this.child.stdin?.on('error', () => {});
    // Neither the watchdog nor its pipe may keep this process's event loop alive.
    this.child.unref();
    (this.child.stdin as Socket | null)?.unref();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  watch(pid: number): void {
    this.child.stdin?.write(`+${pid}\n`);
  }

  forget(pid: number): void {
    this.child.stdin?.write(`-${pid}\n`);
  }

  /** Tells the watchdog to exit without killing anything (we cleaned up ourselves). */
  dismiss(): void {
    this.child.stdin?.end('exit\n');
  }
}
