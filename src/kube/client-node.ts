/**
 * The parts of the official @kubernetes/client-node that Ferry uses, imported from their own
 * modules rather than the package root: the root pulls in every generated API group and costs
 * ~1.5 s of start-up per CLI call on these machines, the kubeconfig and object API ~0.7 s
 * (measured with a bare `import()` of each). The package has no exports map, so these paths
 * are part of what version 1.x publishes; package-lock.json pins the version.
 */
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { KubernetesObjectApi } from '@kubernetes/client-node/dist/object.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';
