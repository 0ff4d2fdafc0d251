import { FerryError } from '../util/errors.js';
import { inventoryFromCluster, inventoryFromManifests, type Inventory } from './load.js';

export { inventoryFromCluster, inventoryFromManifests, type Inventory } from './load.js';
export { summarizeInventory, type InventoryReport } from './report.js';

export interface InventorySourceOptions {
  manifests?: string;
  context?: string;
  kubeconfig?: string;
  namespace?: string;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** Reads an inventory from exported YAML (`manifests`) or a live cluster (kubeconfig + context). */
export async function readInventory(options: InventorySourceOptions): Promise<Inventory> {
  if (options.manifests && options.context) {
    throw new FerryError('usage', '--manifests and --context name two different sources', { location: { field: '--manifests' }, fix: 'pass one of them' });
  }
  if (options.manifests) return inventoryFromManifests({ manifests: options.manifests, ...(options.namespace ? { namespace: options.namespace } : {}) });
  return inventoryFromCluster({ ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}), ...(options.context ? { context: options.context } : {}) }, options.onProgress);
}
