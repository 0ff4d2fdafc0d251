/**
 * PersistentVolumeClaims bind to a PersistentVolume provisioned on the spot for their
 * storage class (the default class when none is named); a PV whose claim is gone is
 * deleted when its reclaim policy says Delete.
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { ControllerClient } from './client.js';
import { splitKey, type Controller } from './manager.js';

type Obj = Record<string, any>;

export const PROVISIONER = 'lab.ferry.dev/hostpath';

export function volumeController(client: ControllerClient, volumeRoot: string): Controller {
  return {
    name: 'persistentvolume',
    keysFor(event: StoreEvent) {
      if (event.resource === '/persistentvolumeclaims') {
        if (event.type === 'DELETED') {
          const volume = (event.object.spec as Obj | undefined)?.volumeName;
          return volume ? [`pv:/${volume}`] : [];
        }
        return [`pvc:${event.object.metadata.namespace}/${event.object.metadata.name}`];
      }
      if (event.resource === 'storage.k8s.io/storageclasses') return client.list('v1', 'PersistentVolumeClaim').map((pvc) => `pvc:${pvc.metadata.namespace}/${pvc.metadata.name}`);
      return [];
    },
    initialKeys: () => client.list('v1', 'PersistentVolumeClaim').map((pvc) => `pvc:${pvc.metadata.namespace}/${pvc.metadata.name}`),
    reconcile(key) {
      if (key.startsWith('pv:')) return releaseVolume(client, splitKey(key.slice(3)).name);
      const { namespace, name } = splitKey(key.slice(4));
      const claim = client.get('v1', 'PersistentVolumeClaim', namespace, name);
      if (!claim || claim.metadata.deletionTimestamp) return;
      bindClaim(client, claim, volumeRoot);
    },
  };
}

function bindClaim(client: ControllerClient, claim: KubeObject, volumeRoot: string): void {
  const spec = claim.spec as Obj;
  if (spec.volumeName) {
    const volume = client.get('v1', 'PersistentVolume', undefined, spec.volumeName);
    if (volume) client.setStatus(claim, { phase: 'Bound', accessModes: (volume.spec as Obj).accessModes, capacity: (volume.spec as Obj).capacity });
    return;
  }
  const classes = client.list('storage.k8s.io/v1', 'StorageClass');
  const className: string | undefined = spec.storageClassName ?? classes.find((sc) => sc.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true')?.metadata.name;
  const storageClass = className ? classes.find((sc) => sc.metadata.name === className) : undefined;
  if (!storageClass) {
    client.setStatus(claim, { phase: 'Pending' });
    return;
  }
  const volumeName = `pvc-${claim.metadata.uid}`;
  const capacity = { storage: spec.resources?.requests?.storage ?? '1Gi' };
  const accessModes = spec.accessModes ?? ['ReadWriteOnce'];
  if (!client.get('v1', 'PersistentVolume', undefined, volumeName)) {
    const volume = client.create({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: volumeName, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER }, finalizers: ['kubernetes.io/pv-protection'] },
      spec: {
        capacity, accessModes,
        persistentVolumeReclaimPolicy: (storageClass as Obj).reclaimPolicy ?? 'Delete',
        storageClassName: storageClass.metadata.name,
        volumeMode: spec.volumeMode ?? 'Filesystem',
        hostPath: { path: `${volumeRoot}/${claim.metadata.namespace}/${volumeName}`, type: 'DirectoryOrCreate' },
        claimRef: { kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid, apiVersion: 'v1', resourceVersion: claim.metadata.resourceVersion },
      },
    });
    client.setStatus(volume, { phase: 'Bound' });
  }
  const copy = structuredClone(claim);
  (copy.spec as Obj).volumeName = volumeName;
  (copy.spec as Obj).storageClassName = storageClass.metadata.name;
  copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes', 'volume.kubernetes.io/storage-provisioner': PROVISIONER };
  const bound = client.update(copy);
  client.setStatus(bound, { phase: 'Bound', accessModes, capacity });
}

function releaseVolume(client: ControllerClient, name: string): void {
  const volume = client.get('v1', 'PersistentVolume', undefined, name);
  if (!volume) return;
  const claimRef = (volume.spec as Obj).claimRef;
  const claim = claimRef ? client.get('v1', 'PersistentVolumeClaim', claimRef.namespace, claimRef.name) : undefined;
  if (claim && claim.metadata.uid === claimRef.uid) return;
  if ((volume.spec as Obj).persistentVolumeReclaimPolicy === 'Delete') {
    const copy = structuredClone(volume);
    copy.metadata.finalizers = [];
    client.update(copy);
    client.delete(copy);
  } else client.setStatus(volume, { phase: 'Released' });
}
