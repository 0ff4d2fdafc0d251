/**
 * API versions Kubernetes has removed, with the release that removed them and what to use
 * instead (https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
 */
export interface RemovedApi {
  apiVersion: string;
  kind: string;
  removedIn: string;
  replacement: string;
}

export const REMOVED_APIS: readonly RemovedApi[] = [
  { apiVersion: 'extensions/v1beta1', kind: 'Deployment', removedIn: '1.16', replacement: 'apps/v1 Deployment' },
  { apiVersion: 'extensions/v1beta1', kind: 'DaemonSet', removedIn: '1.16', replacement: 'apps/v1 DaemonSet' },
  { apiVersion: 'extensions/v1beta1', kind: 'ReplicaSet', removedIn: '1.16', replacement: 'apps/v1 ReplicaSet' },
  { apiVersion: 'extensions/v1beta1', kind: 'NetworkPolicy', removedIn: '1.16', replacement: 'networking.k8s.io/v1 NetworkPolicy' },
  { apiVersion: 'extensions/v1beta1', kind: 'PodSecurityPolicy', removedIn: '1.16', replacement: 'Pod Security Admission (namespace labels)' },
  { apiVersion: 'apps/v1beta1', kind: 'Deployment', removedIn: '1.16', replacement: 'apps/v1 Deployment' },
  { apiVersion: 'apps/v1beta2', kind: 'Deployment', removedIn: '1.16', replacement: 'apps/v1 Deployment' },
  { apiVersion: 'apps/v1beta1', kind: 'StatefulSet', removedIn: '1.16', replacement: 'apps/v1 StatefulSet' },
  { apiVersion: 'apps/v1beta2', kind: 'StatefulSet', removedIn: '1.16', replacement: 'apps/v1 StatefulSet' },
  { apiVersion: 'extensions/v1beta1', kind: 'Ingress', removedIn: '1.22', replacement: 'networking.k8s.io/v1 Ingress' },
  { apiVersion: 'networking.k8s.io/v1beta1', kind: 'Ingress', removedIn: '1.22', replacement: 'networking.k8s.io/v1 Ingress' },
  { apiVersion: 'networking.k8s.io/v1beta1', kind: 'IngressClass', removedIn: '1.22', replacement: 'networking.k8s.io/v1 IngressClass' },
  { apiVersion: 'apiextensions.k8s.io/v1beta1', kind: 'CustomResourceDefinition', removedIn: '1.22', replacement: 'apiextensions.k8s.io/v1 CustomResourceDefinition' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kind: 'ClusterRole', removedIn: '1.22', replacement: 'rbac.authorization.k8s.io/v1 ClusterRole' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kind: 'ClusterRoleBinding', removedIn: '1.22', replacement: 'rbac.authorization.k8s.io/v1 ClusterRoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kind: 'Role', removedIn: '1.22', replacement: 'rbac.authorization.k8s.io/v1 Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kind: 'RoleBinding', removedIn: '1.22', replacement: 'rbac.authorization.k8s.io/v1 RoleBinding' },
  { apiVersion: 'batch/v1beta1', kind: 'CronJob', removedIn: '1.25', replacement: 'batch/v1 CronJob' },
  { apiVersion: 'discovery.k8s.io/v1beta1', kind: 'EndpointSlice', removedIn: '1.25', replacement: 'discovery.k8s.io/v1 EndpointSlice' },
  { apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget', removedIn: '1.25', replacement: 'policy/v1 PodDisruptionBudget' },
  { apiVersion: 'policy/v1beta1', kind: 'PodSecurityPolicy', removedIn: '1.25', replacement: 'Pod Security Admission (namespace labels)' },
  { apiVersion: 'autoscaling/v2beta1', kind: 'HorizontalPodAutoscaler', removedIn: '1.25', replacement: 'autoscaling/v2 HorizontalPodAutoscaler' },
  { apiVersion: 'autoscaling/v2beta2', kind: 'HorizontalPodAutoscaler', removedIn: '1.26', replacement: 'autoscaling/v2 HorizontalPodAutoscaler' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta2', kind: 'FlowSchema', removedIn: '1.29', replacement: 'flowcontrol.apiserver.k8s.io/v1 FlowSchema' },
  { apiVersion: 'storage.k8s.io/v1beta1', kind: 'CSIStorageCapacity', removedIn: '1.27', replacement: 'storage.k8s.io/v1 CSIStorageCapacity' },
];

export function findRemovedApi(apiVersion: string, kind: string): RemovedApi | undefined {
  return REMOVED_APIS.find((api) => api.apiVersion === apiVersion && api.kind === kind);
}
