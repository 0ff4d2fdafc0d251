import { KubeConfig } from './client-node.js';
import { existsSync } from 'node:fs';
import { FerryError } from '../util/errors.js';

export interface KubeConfigOptions {
  /** --kubeconfig; otherwise KUBECONFIG, otherwise ~/.kube/config, exactly as kubectl. */
  kubeconfig?: string;
  /** --context; otherwise the file's current-context. */
  context?: string;
}

/** Loads kubeconfig the way kubectl does and selects the context, with errors that say how to fix them. */
export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const config = new KubeConfig();
  try {
    if (options.kubeconfig) {
      if (!existsSync(options.kubeconfig)) {
        throw new FerryError('kubeconfig', 'kubeconfig file does not exist', {
          location: { file: options.kubeconfig },
          fix: 'pass an existing file to --kubeconfig, or run `ferry lab up` to create local clusters',
        });
      }
      config.loadFromFile(options.kubeconfig);
    } else {
      config.loadFromDefault();
    }
  } catch (error) {
    if (error instanceof FerryError) throw error;
    throw new FerryError('kubeconfig', `cannot read kubeconfig: ${(error as Error).message}`, {
      location: { file: options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config' },
      fix: 'check the file is valid YAML with clusters, users and contexts',
      cause: error,
    });
  }
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      const known = config.getContexts().map((context) => context.name);
      throw new FerryError('kubeconfig', `context "${options.context}" is not in the kubeconfig`, {
        location: { field: '--context' },
        fix: known.length > 0 ? `use one of: ${known.join(', ')}` : 'run `ferry lab up` or point --kubeconfig at a file with contexts',
      });
    }
    config.setCurrentContext(options.context);
  }
  if (!config.getCurrentCluster()) {
    throw new FerryError('kubeconfig', 'no current cluster in the kubeconfig', {
      fix: 'pass --context NAME, or set current-context in the kubeconfig',
    });
  }
  return config;
}
