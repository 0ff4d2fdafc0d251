/** The objects every new cluster starts with, as a fresh kubeadm cluster has them. */
import type { KubeObject } from '../kube/object.js';

export function bootstrapObjects(clusterName: string, nodeName: string): KubeObject[] {
  const namespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'].map((name): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
  return [
    ...namespaces,
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/control-plane': '', 'lab.ferry.dev/cluster': clusterName } },
      spec: {},
    },
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'lab.ferry.dev/hostpath',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
      allowVolumeExpansion: true,
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
    },
  ];
}

export function nodeStatus(now: string): Record<string, unknown> {
  const capacity = { cpu: '8', memory: '16Gi', pods: '250', 'ephemeral-storage': '100Gi' };
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
    ],
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'localhost' }],
    nodeInfo: { kubeletVersion: 'v1.32.0-ferry-lab', containerRuntimeVersion: 'ferry-lab://local-processes', operatingSystem: 'linux', architecture: 'amd64', osImage: 'ferry lab', kernelVersion: '', kubeProxyVersion: '', machineID: '', systemUUID: '', bootID: '' },
  };
}
