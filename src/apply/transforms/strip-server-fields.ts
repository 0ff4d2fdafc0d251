import type { KubeObject } from '../../kube/object.js';
import { podTemplate } from '../../graph/pod-spec.js';

/** metadata fields the source cluster's API server wrote; they mean nothing (or harm) on the target. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const;

/** Annotations written by kubectl and controllers, not by the user. */
const SERVER_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
  'deprecated.daemonset.template.generation',
  'pv.kubernetes.io/bind-completed',
  'pv.kubernetes.io/bound-by-controller',
  'volume.beta.kubernetes.io/storage-provisioner',
  'volume.kubernetes.io/storage-provisioner',
  'volume.kubernetes.io/selected-node',
  'autoscaling.alpha.kubernetes.io/conditions',
  'autoscaling.alpha.kubernetes.io/current-metrics',
];

/** Labels the Job controller adds (and selects on) when it generates a Job's selector. */
const JOB_GENERATED_LABELS = ['controller-uid', 'job-name', 'batch.kubernetes.io/controller-uid', 'batch.kubernetes.io/job-name'];

export interface StripOptions {
  /** Keep Service nodePorts as they are (clients outside the cluster dial them). */
  pinNodePorts?: boolean;
}

/**
 * Removes what the source cluster owns: status, server metadata, controller annotations,
 * allocated Service IPs and node ports, PVC bindings, and Job-generated selectors. Pure: the
 * input object is not modified.
 */
export function stripServerFields(input: KubeObject, options: StripOptions = {}): KubeObject {
  const object = structuredClone(input) as KubeObject & Record<string, any>;
  delete object.status;
  for (const field of SERVER_METADATA) delete object.metadata[field];
  // Owner references carry the source cluster's uids, which do not exist on the target.
  delete object.metadata.ownerReferences;
  if (object.metadata.annotations) {
    for (const annotation of SERVER_ANNOTATIONS) delete object.metadata.annotations[annotation];
    if (Object.keys(object.metadata.annotations).length === 0) delete object.metadata.annotations;
  }
  const spec = object.spec as Record<string, any> | undefined;
  if (object.kind === 'Service' && spec) {
    // A headless Service ("None") must stay headless; any allocated address must go.
    if (spec.clusterIP !== 'None') {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    const pinned = options.pinNodePorts || object.metadata.annotations?.['ferry.dev/pin-node-ports'] === 'true';
    if (!pinned) {
      for (const port of spec.ports ?? []) delete port.nodePort;
      delete spec.healthCheckNodePort;
    }
  }
  if (object.kind === 'PersistentVolumeClaim' && spec) delete spec.volumeName;
  if (object.kind === 'Job' && spec && !spec.manualSelector) {
    delete spec.selector;
    for (const labels of [object.metadata.labels, spec.template?.metadata?.labels] as Array<Record<string, string> | undefined>) {
      if (labels) for (const label of JOB_GENERATED_LABELS) delete labels[label];
    }
    if (object.metadata.labels && Object.keys(object.metadata.labels).length === 0) delete object.metadata.labels;
  }
  // Templates print `creationTimestamp: null` and claim templates a `status`: both server noise.
  // Any kind may have these fields (custom resources are not shape-checked beyond spec), so only mappings are touched.
  if (isMapping(spec?.template) && isMapping(spec.template.metadata)) delete spec.template.metadata.creationTimestamp;
  for (const claim of Array.isArray(spec?.volumeClaimTemplates) ? spec.volumeClaimTemplates : []) {
    if (!isMapping(claim)) continue;
    delete claim.status;
    if (isMapping(claim.metadata)) delete claim.metadata.creationTimestamp;
  }
  if (object.kind === 'Deployment' || object.kind === 'StatefulSet' || object.kind === 'DaemonSet') {
    const template = podTemplate(object);
    if (template) delete (template.labels as Record<string, string>)['pod-template-hash'];
  }
  return object;
}

function isMapping(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
