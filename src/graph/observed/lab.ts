/**
 * `--observed lab`: a lab cluster's service networking, whose telemetry is Istio's standard
 * metrics (src/lab/network/telemetry.ts), read straight from the address the cluster
 * publishes in ConfigMap `ferry-system/lab-network` (`metricsUrl`). Found through the kube
 * API rather than in-process, because `ferry` and the lab usually run in different
 * processes (`ferry lab up`).
 */
import type { KubeClient } from '../../kube/client.js';
import { FerryError } from '../../util/errors.js';
import { istioExpositionSource } from './istio.js';
import type { ObservedEdgeSource } from './model.js';

const NAMESPACE = 'ferry-system';
const CONFIGMAP = 'lab-network';

export function labSource(name: string, client: () => KubeClient): ObservedEdgeSource {
  const fix = 'point --context/--from (or lab=CONTEXT) at a lab cluster started with pods as processes (`ferry lab up`), or read a mesh\'s metrics with --observed prometheus=URL';
  return istioExpositionSource(name, async () => {
    const kube = client();
    let configMap: { data?: Record<string, string> } | undefined;
    try {
      configMap = await kube.request<{ data?: Record<string, string> }>({ path: `/api/v1/namespaces/${NAMESPACE}/configmaps/${CONFIGMAP}` });
    } catch (error) {
      const notFound = (error as { code?: string }).code === 'http-404';
      throw new FerryError('graph.observed-lab', notFound
        ? `--observed ${name}: context "${kube.contextName}" has no ConfigMap ${NAMESPACE}/${CONFIGMAP}: it is not a lab cluster with service networking`
        : `--observed ${name}: cannot read ConfigMap ${NAMESPACE}/${CONFIGMAP} of context "${kube.contextName}": ${(error as Error).message}`, { location: { field: '--observed' }, fix, cause: error });
    } finally {
      kube.close();
    }
    const url = configMap?.data?.metricsUrl;
    if (!url) throw new FerryError('graph.observed-lab', `--observed ${name}: ConfigMap ${NAMESPACE}/${CONFIGMAP} of context "${kube.contextName}" has no metricsUrl`, { location: { field: '--observed' }, fix });
    return url;
  }, fix);
}
