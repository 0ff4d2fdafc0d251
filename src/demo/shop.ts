import type { KubeObject } from '../kube/object.js';

/**
 * The demo's workload as a team would deploy it: the `ferry.dev/shop` sample app (an order
 * API on PostgreSQL) with its Service, an Ingress for `shop.demo`, and its database
 * address in a Secret (so the migration carries a secret it must never print).
 */
export const SHOP_HOST = 'shop.demo';

export function shopManifests(databaseUrl: string): KubeObject[] {
  const labels = { app: 'shop' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-db', namespace: 'shop' }, type: 'Opaque',
      stringData: { DATABASE_URL: databaseUrl },
    },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop', namespace: 'shop', labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [{
              name: 'api', image: 'ferry.dev/shop:1.0',
              ports: [{ containerPort: 8080, name: 'http' }],
              envFrom: [{ secretRef: { name: 'shop-db' } }],
              readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1, failureThreshold: 2 },
              resources: { requests: { cpu: '100m', memory: '64Mi' } },
            }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', namespace: 'shop' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'shop', namespace: 'shop' },
      spec: { rules: [{ host: SHOP_HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop', port: { number: 80 } } } }] } }] },
    },
  ];
}
