/**
 * Every container runs as the leader of its own process group (spawn `detached`), so one
 * signal to `-pid` reaches the shell of a `lab.ferry.dev/command` and everything it forked.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone already. Fall back to the pid itself in case it left its group.
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

