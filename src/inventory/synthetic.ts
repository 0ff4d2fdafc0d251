import type { KubeObject } from '../kube/object.js';
import { seededRandom } from '../util/random.js';

/**
 * A synthetic but realistic inventory for benchmarks and property tests: `services`
 * microservices, each a Deployment + Service + ServiceAccount + ConfigMap + Secret + HPA +
 * PDB + Ingress + PVC + RoleBinding (10 objects), calling up to `callsPerService` services
 * with a higher index (an acyclic call graph), spread over `namespaces` namespaces.
 * Deterministic for a given seed.
 */
export function syntheticInventory(options: { services: number; namespaces?: number; callsPerService?: number; seed?: number }): KubeObject[] {
  const { services, namespaces = 10, callsPerService = 3 } = options;
  const random = seededRandom(options.seed ?? 42);
  const name = (i: number) => `svc-${String(i).padStart(5, '0')}`;
  const namespaceOf = (i: number) => `team-${i % namespaces}`;
  const objects: KubeObject[] = [];
  for (let i = 0; i < services; i++) {
    const ns = namespaceOf(i);
    const labels = { app: name(i) };
    const calls = new Set<number>();
    for (let c = 0; c < callsPerService && i + 1 < services; c++) calls.add(i + 1 + Math.floor(random() * Math.min(50, services - i - 1)));
    const env = [...calls].map((callee, k) => ({ name: `DEP_${k}_ADDR`, value: `http://${name(callee)}.${namespaceOf(callee)}.svc.cluster.local:8080` }));
    objects.push(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: name(i), namespace: ns, labels }, spec: {
        replicas: 2, selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: {
          serviceAccountName: name(i),
          containers: [{ name: 'app', image: `registry.example.com/${name(i)}:1.0.${i % 7}`, env: [...env, { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: `${name(i)}-db`, key: 'password' } } }], envFrom: [{ configMapRef: { name: `${name(i)}-config` } }] }],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `${name(i)}-data` } }],
        } },
      } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: name(i), namespace: ns }, spec: { selector: labels, ports: [{ port: 8080 }] } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: name(i), namespace: ns } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name(i)}-config`, namespace: ns }, data: { LOG_LEVEL: 'info' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name(i)}-db`, namespace: ns }, type: 'Opaque', data: { password: 'c2VjcmV0' } },
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: name(i), namespace: ns }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: name(i) }, minReplicas: 2, maxReplicas: 5 } },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: name(i), namespace: ns }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: name(i), namespace: ns }, spec: { rules: [{ host: `${name(i)}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: name(i), port: { number: 8080 } } } }] } }] } },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `${name(i)}-data`, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'standard', resources: { requests: { storage: '1Gi' } } } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: name(i), namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: name(i), namespace: ns }] },
    );
  }
  return objects;
}
