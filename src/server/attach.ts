/**
 * `ferry run --ui` / `ferry resume --ui`: the dashboard served by the process that drives the
 * run, fed by the journal itself (`DriveOptions.onJournal`), for as long as the drive lasts.
 */
import type { DriveOptions } from '../run/drive.js';
import { color } from '../util/color.js';
import { FerryError } from '../util/errors.js';
import { startUiServer } from './server.js';

export interface DashboardFlags {
  ui?: boolean;
  uiPort?: string;
  uiHost?: string;
}

/**
 * Runs `drive` with the dashboard attached when `--ui` is given (the URL, token included, on
 * stderr: stdout stays the run's result), and closes it when the drive ends.
 */
export async function withDashboard<T extends DriveOptions, R>(flags: DashboardFlags, options: T, drive: (options: T) => Promise<R>): Promise<R> {
  if (!flags.ui) return drive(options);
  const port = flags.uiPort === undefined ? 0 : Number(flags.uiPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new FerryError('usage', `must be a port number from 0 to 65535, got "${flags.uiPort}"`, { location: { field: '--ui-port' }, fix: '--ui-port 8080 (or 0 for any free port)' });
  const { onJournal: before, ...driveOptions } = options;
  const ui = await startUiServer({
    stateDir: options.stateDir, port, ...(flags.uiHost ? { host: flags.uiHost } : {}),
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    driveOptions,
    log: (line) => process.stderr.write(`${color().dim(new Date().toISOString())} ${line}\n`),
  });
  process.stderr.write(`dashboard: ${ui.url}\n`);
  try {
    return await drive({
      ...options,
      onJournal: (journal, files, plan) => {
        const detachBefore = before?.(journal, files, plan);
        const detach = ui.attachRun(journal, files, plan);
        return async () => {
          detach();
          if (detachBefore) await detachBefore();
        };
      },
    });
  } finally {
    await ui.close();
  }
}
