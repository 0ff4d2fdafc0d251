/**
 * `ferry run --ui` / `ferry resume --ui`: the dashboard served by the process that drives the
 * run, fed by the journal itself (`DriveOptions.onJournal`), for as long as the drive lasts.
 */
import { watchTogether, type DriveOptions } from '../run/drive.js';
import { startUiServer } from './server.js';

export interface DashboardSettings {
  ui?: boolean;
  /** 0 or absent: any free port. */
  port?: number;
  /** Where the URL (token included) and the server's lines go. */
  log: (line: string) => void;
}

/**
 * Runs `drive` with the dashboard attached when `--ui` is given (the URL, token included, on
 * stderr: stdout stays the run's result), and closes it when the drive ends.
 */
export async function withDashboard<T extends DriveOptions, R>(settings: DashboardSettings, options: T, drive: (options: T) => Promise<R>): Promise<R> {
  if (!settings.ui) return drive(options);
  const { onJournal: before, ...driveOptions } = options;
  const ui = await startUiServer({
    stateDir: options.stateDir, port: settings.port ?? 0,
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    driveOptions,
    log: settings.log,
  });
  settings.log(`dashboard: ${ui.url}`);
  try {
    return await drive({ ...options, onJournal: watchTogether(before, (journal, files, plan) => {
      const detach = ui.attachRun(journal, files, plan);
      return async () => detach();
    }) });
  } finally {
    await ui.close();
  }
}
