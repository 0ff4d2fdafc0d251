/**
 * The graph benchmark's inventory: 10,000 objects in 10 namespaces — 3,000 Deployments and
 * their Services, 1,000 StatefulSets behind headless Services, 1,000 Secrets with database
 * URLs and 1,000 ConfigMaps of service addresses, each loaded by about six workloads (shared
 * config), so every channel the graph reads is exercised: literal env, envFrom, configMapKeyRef,
 * secretKeyRef, $(VAR) expansion, args, pod DNS names. Deterministic.
 */
import type { KubeObject } from '../src/kube/object.js';
import { seededRandom } from '../src/util/random.js';

export function sharedConfigInventory(seed = 7): KubeObject[] {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const NAMESPACES = 10;
  const DEPLOYMENTS = 300; // per namespace
  const STATEFULSETS = 100;
  const CONFIGMAPS = 100;
  const SECRETS = 100;
  const objects: KubeObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `team-${n}`;
    const svc = (i: number) => `api-${i}`;
    const sts = (i: number) => `db-${i}`;
    for (let c = 0; c < CONFIGMAPS; c++) {
      const data: Record<string, string> = {};
      for (let k = 0; k < 10; k++) {
        const target = pick(DEPLOYMENTS);
        const other = `team-${pick(NAMESPACES)}`;
        data[`SVC_${k}_URL`] = k % 3 === 0 ? `http://${svc(target)}.${other}.svc.cluster.local:8080` : `http://${svc(target)}:8080`;
      }
      data.LOG_LEVEL = 'info';
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `shared-${c}`, namespace: ns }, data });
    }
    for (let s = 0; s < SECRETS; s++) {
      const url = `postgresql://app:pw-${s}@${sts(pick(STATEFULSETS))}-0.${sts(pick(STATEFULSETS))}.${ns}.svc.cluster.local:5432/app`;
      objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `db-${s}-creds`, namespace: ns }, data: { url: Buffer.from(url).toString('base64'), password: Buffer.from(`pw-${s}`).toString('base64') } });
    }
    for (let i = 0; i < STATEFULSETS; i++) {
      const labels = { app: sts(i) };
      objects.push(
        { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: sts(i), namespace: ns }, spec: { serviceName: sts(i), replicas: 3, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'db', image: 'postgres:16', env: [{ name: 'PEERS', value: `${sts(i)}-0.${sts(i)}:5432,${sts(i)}-1.${sts(i)}:5432` }] }] } } } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: sts(i), namespace: ns }, spec: { clusterIP: 'None', selector: labels, ports: [{ port: 5432 }] } },
      );
    }
    for (let i = 0; i < DEPLOYMENTS; i++) {
      const labels = { app: svc(i) };
      const secret = `db-${pick(SECRETS)}-creds`;
      objects.push(
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: svc(i), namespace: ns }, spec: {
          replicas: 2, selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{
            name: 'app',
            image: `registry.example.com/${svc(i)}:1`,
            envFrom: [{ configMapRef: { name: `shared-${pick(CONFIGMAPS)}` } }, { prefix: 'EXTRA_', configMapRef: { name: `shared-${pick(CONFIGMAPS)}` } }],
            env: [
              { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: secret, key: 'url' } } },
              { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
              { name: 'UPSTREAM_HOST', value: svc(pick(DEPLOYMENTS)) },
              { name: 'UPSTREAM_URL', value: 'http://$(UPSTREAM_HOST):8080' },
              { name: 'CACHE_ADDR', value: `${sts(pick(STATEFULSETS))}-0.${sts(pick(STATEFULSETS))}:6379` },
            ],
            args: ['--listen=:8080', `--peer-url=http://${svc(pick(DEPLOYMENTS))}.${ns}:8080`],
          }] } },
        } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: svc(i), namespace: ns }, spec: { selector: labels, ports: [{ port: 8080 }] } },
      );
    }
  }
  return objects;
}
