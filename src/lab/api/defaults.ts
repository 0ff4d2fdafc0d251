/**
 * Defaulting the API server applies on write, for the fields readiness logic and `kubectl
 * get -o json` readers rely on (replicas, strategy, clusterIP, port protocols…).
 * Mutates the (already copied) object. Pure apart from the injected IP allocator.
 */
import type { KubeObject } from '../../kube/object.js';
import { isPlainObject } from './field-set.js';

type Obj = Record<string, any>;

export interface DefaultingContext {
  allocateClusterIP(): string;
}

export function applyDefaults(object: KubeObject, context: DefaultingContext): void {
  const spec = object.spec as Obj | undefined;
  switch (object.kind) {
    case 'Secret': {
      // stringData is write-only: the API server folds it into data (base64) and never returns it.
      // https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data
      const secret = object as Obj;
      if (isPlainObject(secret.stringData)) {
        secret.data = { ...(secret.data ?? {}) };
        for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) secret.data[key] = Buffer.from(String(value), 'utf8').toString('base64');
      }
      delete secret.stringData;
      secret.type ??= 'Opaque';
      return;
    }
    case 'Deployment':
      if (!spec) return;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      // `kubectl create deployment` sends `strategy: {}`: the type still defaults.
      spec.strategy ??= {};
      spec.strategy.type ||= 'RollingUpdate';
      if (spec.strategy.type === 'RollingUpdate') spec.strategy.rollingUpdate ??= { maxUnavailable: '25%', maxSurge: '25%' };
      defaultPodTemplate(spec.template);
      return;
    case 'ReplicaSet':
    case 'StatefulSet':
      if (!spec) return;
      spec.replicas ??= 1;
      if (object.kind === 'StatefulSet') {
        spec.podManagementPolicy ??= 'OrderedReady';
        spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      }
      defaultPodTemplate(spec.template);
      return;
    case 'DaemonSet':
    case 'Job':
      if (!spec) return;
      if (object.kind === 'Job') {
        spec.parallelism ??= 1;
        spec.completions ??= 1;
        spec.backoffLimit ??= 6;
        spec.completionMode ??= 'NonIndexed';
        if (spec.template) {
          const labels = (spec.template.metadata ??= {}).labels ??= {};
          labels['batch.kubernetes.io/controller-uid'] ??= object.metadata.uid;
          labels['batch.kubernetes.io/job-name'] ??= object.metadata.name;
          labels['controller-uid'] ??= object.metadata.uid;
          labels['job-name'] ??= object.metadata.name;
          spec.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': object.metadata.uid } };
        }
      }
      defaultPodTemplate(spec.template, object.kind === 'Job' ? 'Never' : 'Always');
      return;
    case 'Pod':
      if (spec) defaultPodSpec(spec);
      return;
    case 'Service':
      if (!spec) return;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.type !== 'ExternalName') {
        if (spec.clusterIP === undefined || spec.clusterIP === '') spec.clusterIP = context.allocateClusterIP();
        spec.clusterIPs ??= [spec.clusterIP];
        spec.ipFamilies ??= ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
        spec.internalTrafficPolicy ??= 'Cluster';
      }
      for (const port of (spec.ports ?? []) as Obj[]) {
        port.protocol ??= 'TCP';
        port.targetPort ??= port.port;
      }
      return;
    case 'PersistentVolumeClaim':
      if (spec) spec.volumeMode ??= 'Filesystem';
      return;
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      object.status = { phase: 'Active', ...((object.status as Obj | undefined) ?? {}) };
      (object.metadata.labels ??= {})['kubernetes.io/metadata.name'] = object.metadata.name;
      return;
  }
}

function defaultPodTemplate(template: unknown, restartPolicy = 'Always'): void {
  if (!isPlainObject(template) || !isPlainObject(template.spec)) return;
  defaultPodSpec(template.spec as Obj, restartPolicy);
}

function defaultPodSpec(spec: Obj, restartPolicy = 'Always'): void {
  spec.restartPolicy ??= restartPolicy;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])] as Obj[]) {
    container.terminationMessagePath ??= '/dev/termination-log';
    container.terminationMessagePolicy ??= 'File';
    container.imagePullPolicy ??= String(container.image ?? '').endsWith(':latest') || !String(container.image ?? '').includes(':') ? 'Always' : 'IfNotPresent';
    container.resources ??= {};
    for (const port of (container.ports ?? []) as Obj[]) port.protocol ??= 'TCP';
  }
}
