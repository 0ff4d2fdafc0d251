import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr for long work, shown only on a terminal so pipes and `-o json`
 * stay clean. Returns an update function and a stop function.
 */
export function startProgress(label: string): { update: (done: number, total: number, what?: string) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} {what}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, what = '') {
      if (!started) {
        bar.start(total, 0, { what });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { what });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
