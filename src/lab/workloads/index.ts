/** Lab workloads: pods as local processes, sample apps' faults, and each cluster's ingress. */
export { createPodRuntime, toPodStatus } from '../runtime.js';
export type { PodRuntime, RunningPod, PodRunStatus, ContainerRunStatus, PodRuntimeOptions } from '../runtime.js';
export { setAppFaults, getAppFaults, clearAppFaults, setPodFaults, clearPodFaults, NO_FAULTS, type AppFaults } from './faults.js';
export { startClusterIngress, type ClusterIngress, type ClusterIngressOptions, type IngressEndpoint } from './ingress.js';
export { matchIngress, type IngressBackendRef } from './ingress-routes.js';
export { SAMPLE_IMAGES, COMMAND_ANNOTATION } from './images.js';
