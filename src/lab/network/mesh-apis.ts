import type { KubeObject } from '../../kube/object.js';

/**
 * Istio's networking types, registered in a lab cluster started with `mesh: true` (`ferry lab
 * up`, `ferry demo`), as installing Istio registers them on a real cluster. The service
 * networking routes by VirtualServices and DestinationRules (mesh.ts); ServiceEntries are
 * stored only (an istio bridge writes them). Written here rather than copied from Istio: the lab
 * stores these objects and routes by them, it does not validate them against Istio's full
 * schemas (install Istio's own CRDs over these for that; they serve the same names).
 */
const KINDS = [
  { kind: 'VirtualService', plural: 'virtualservices', singular: 'virtualservice', shortNames: ['vs'] },
  { kind: 'DestinationRule', plural: 'destinationrules', singular: 'destinationrule', shortNames: ['dr'] },
  { kind: 'ServiceEntry', plural: 'serviceentries', singular: 'serviceentry', shortNames: ['se'] },
] as const;

export const MESH_API_MANAGER = 'ferry-lab-mesh';

export function meshApiDefinitions(): KubeObject[] {
  const schema = { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };
  return KINDS.map(({ kind, plural, singular, shortNames }) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.networking.istio.io`, labels: { 'app.kubernetes.io/managed-by': MESH_API_MANAGER } },
    spec: {
      group: 'networking.istio.io',
      scope: 'Namespaced',
      names: { kind, plural, singular, listKind: `${kind}List`, shortNames: [...shortNames], categories: ['istio-io', 'networking-istio-io'] },
      versions: ['v1', 'v1beta1', 'v1alpha3'].map((name) => ({ name, served: true, storage: name === 'v1', schema, subresources: { status: {} } })),
    },
  }));
}
