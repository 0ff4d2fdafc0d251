/**
 * Named crash points, for tests that prove an interrupted Ferry can be resumed:
 * `FERRY_FAILPOINT=switchover:detach` makes the process die with SIGKILL — no cleanup, no
 * `finally`, as an OOM kill or a lost node would — the moment it reaches that point. Unset,
 * a failpoint costs one environment lookup. Tests that kill a child at a random moment
 * mostly miss the few milliseconds that matter (a cutover's write pause is ~50 ms); a named
 * point hits each dangerous state on purpose.
 */
export function failpoint(name: string): void {
  const wanted = process.env.FERRY_FAILPOINT;
  if (wanted && wanted.split(',').includes(name)) process.kill(process.pid, 'SIGKILL');
}
