import type { Command } from 'commander';
import { readInventory, type Inventory } from '../inventory/index.js';
import { globalOptions } from './context.js';
import { startProgress } from './progress.js';

/** The flags that name where an inventory comes from, shared by inventory, graph and plan. */
export function addSourceOptions(command: Command, contextFlag = '--context <name>'): Command {
  return command
    .option(contextFlag, 'kubeconfig context of a live cluster')
    .option('--manifests <path>', 'exported YAML instead of a live cluster: a file or a directory')
    .option('-n, --namespace <name>', 'namespace for objects in the manifests that name none', 'default');
}

export async function inventoryFromFlags(command: Command, options: { context?: string; from?: string; manifests?: string; namespace?: string }): Promise<Inventory> {
  const progress = startProgress('reading cluster');
  try {
    const context = options.context ?? options.from;
    return await readInventory({
      ...(options.manifests ? { manifests: options.manifests } : {}),
      ...(context ? { context } : {}),
      ...(globalOptions(command).kubeconfig ? { kubeconfig: globalOptions(command).kubeconfig! } : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
      onProgress: progress.update,
    });
  } finally {
    progress.stop();
  }
}
