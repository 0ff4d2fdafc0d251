import type { Command } from 'commander';

/**
 * Every command lives in its own module and registers itself here; adding a command is
 * one new file and one line in this list.
 */
type Register = (program: Command) => void;

const registrations: Array<() => Promise<{ register: Register }>> = [
  () => import('./version.js'),
  () => import('./lab.js'),
  () => import('./data.js'),
  () => import('./inventory.js'),
  () => import('./graph.js'),
  () => import('./plan.js'),
  () => import('./validate.js'),
  () => import('./schema.js'),
  () => import('./preflight.js'),
  () => import('./apply.js'),
  () => import('./diff.js'),
  () => import('./runs.js'),
  () => import('./run.js'),
  () => import('./demo.js'),
  () => import('./router.js'),
];

export async function registerCommands(program: Command): Promise<void> {
  for (const load of registrations) (await load()).register(program);
}
