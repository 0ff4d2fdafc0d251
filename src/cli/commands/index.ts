import type { Command } from 'commander';

/**
 * Every command lives in its own module and registers itself here; adding a command is
 * one new file and one entry in this table, under each top-level name it registers.
 * Only the module of the command being run is loaded: the kube and database modules take
 * seconds to import, which `ferry version` or `ferry validate` should not pay.
 */
type Register = (program: Command) => void;
type Loader = () => Promise<{ register: Register }>;

const runs: Loader = () => import('./runs.js');
const run: Loader = () => import('./run.js');

const commands: Record<string, Loader> = {
  version: () => import('./version.js'),
  lab: () => import('./lab.js'),
  data: () => import('./data.js'),
  inventory: () => import('./inventory.js'),
  graph: () => import('./graph.js'),
  plan: () => import('./plan.js'),
  validate: () => import('./validate.js'),
  schema: () => import('./schema.js'),
  preflight: () => import('./preflight.js'),
  apply: () => import('./apply.js'),
  diff: () => import('./diff.js'),
  status: runs,
  pause: runs,
  abort: runs,
  approve: runs,
  audit: runs,
  run,
  resume: run,
  rollback: run,
  demo: () => import('./demo.js'),
  router: () => import('./router.js'),
  report: () => import('./report.js'),
  ui: () => import('./ui.js'),
};

/** Registers the command named on the command line, or every command (for help and unknown names). */
export async function registerCommands(program: Command, argv: readonly string[] = []): Promise<void> {
  const named = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const loaders = named && named !== 'help' && commands[named] ? [commands[named]] : [...new Set(Object.values(commands))];
  for (const load of loaders) (await load()).register(program);
}
