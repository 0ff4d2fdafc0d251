import type { Command } from 'commander';

/**
 * Every command lives in its own module and registers itself here; adding a command is
 * one new file and one line in this list.
 */
type Register = (program: Command) => void;

const registrations: Array<() => Promise<{ register: Register }>> = [
  () => import('./version.js'),
];

export async function registerCommands(program: Command): Promise<void> {
  for (const load of registrations) (await load()).register(program);
}
