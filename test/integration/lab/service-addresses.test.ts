/**
 * Reaching a user's own application on the lab as on a real cluster: a LoadBalancer Service
 * answers at the address in its status (MetalLB-style), a NodePort on the node's address, an
 * Ingress at its status address; `ferry lab status` lists them all.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import { labFiles, type LabState } from '../../../src/lab/state.js';
import type { LabStatusReport } from '../../../src/lab/lab-status.js';
import { waitFor } from './workloads-helpers.js';

let lab: TestLab | undefined;
after(async () => {
  await lab?.stop();
});

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ferry.dev/echo:v3
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web-public, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}, {name: alt, port: 9090, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-node, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default}
spec:
  rules:
  - host: web.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web-node, port: {number: 80}}}}]
`;

type Obj = Record<string, any>;

test('a Deployment behind a LoadBalancer, a NodePort and an Ingress answers a plain HTTP client at the addresses in their status; ferry lab status lists them', async () => {
  lab = await startTestLab(['source'], 'processes');
  const file = join(lab.dir, 'web.yaml');
  writeFileSync(file, manifests);
  const applied = await lab.kubectl(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  const client = new ControllerClient(lab.clusters[0]!.service);
  await waitFor('web ready', () => (client.get('apps/v1', 'Deployment', 'default', 'web')?.status as Obj | undefined)?.readyReplicas === 2, 60_000);

  // LoadBalancer: an address of its own in status, every port answering there.
  const lb = await waitFor('a load-balancer address', () => (client.get('v1', 'Service', 'default', 'web-public')?.status as Obj | undefined)?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
  assert.match(lb, /^127\.\d+\.200\.\d+$/);
  const pods = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`http://${lb}:8080/hello`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as Obj;
    assert.equal(body.service, 'web');
    assert.equal(body.version, 'v3');
    assert.equal(body.path, '/hello');
    pods.add(body.pod);
  }
  assert.equal(pods.size, 2, 'connections are balanced over both ready pods');
  assert.equal((await fetch(`http://${lb}:9090/`)).status, 200);
  const lbSpec = client.get('v1', 'Service', 'default', 'web-public')?.spec as Obj;
  assert.ok(lbSpec.ports.every((port: Obj) => port.nodePort >= 30000 && port.nodePort <= 32767), 'a LoadBalancer gets node ports too');

  // NodePort: allocated in range, answering on the node's address.
  const nodePort = await waitFor('a nodePort', () => ((client.get('v1', 'Service', 'default', 'web-node')?.spec as Obj).ports[0].nodePort as number | undefined));
  assert.ok(nodePort >= 30000 && nodePort <= 32767);
  const viaNode = await waitFor('the node port answering', async () => (await fetch(`http://127.0.0.1:${nodePort}/`).catch(() => undefined))?.status === 200 || undefined);
  assert.ok(viaNode);
  const got = await lab.kubectl(['get', 'svc', 'web-public', 'web-node']);
  assert.match(got.stdout, new RegExp(`web-public\\s+LoadBalancer\\s+\\S+\\s+${lb.replace(/\./g, '\\.')}\\s+8080:\\d+/TCP,9090:\\d+/TCP`));
  assert.match(got.stdout, new RegExp(`web-node\\s+NodePort\\s+\\S+\\s+<none>\\s+80:${nodePort}/TCP`));

  // Ingress: the ingress's address and port in status, answering there for the rule's host.
  const ingressStatus = await waitFor('an Ingress address', () => (client.get('networking.k8s.io/v1', 'Ingress', 'default', 'web')?.status as Obj | undefined)?.loadBalancer?.ingress?.[0] as Obj | undefined);
  assert.equal(ingressStatus.ip, lab.clusters[0]!.ingress!.host);
  const ingressPort = ingressStatus.ports[0].port as number;
  const viaIngress = await request(`http://${ingressStatus.ip}:${ingressPort}/shop`, { headers: { host: 'web.example.com' } });
  assert.equal(viaIngress.statusCode, 200);
  assert.equal(((await viaIngress.body.json()) as Obj).service, 'web');

  // A Service that stops being a LoadBalancer gives its address back and stops answering there.
  assert.equal((await lab.kubectl(['patch', 'svc', 'web-public', '-p', '{"spec":{"type":"ClusterIP"}}'])).code, 0);
  await waitFor('the address released', () => !(client.get('v1', 'Service', 'default', 'web-public')?.status as Obj | undefined)?.loadBalancer?.ingress);
  await waitFor('the address closed', async () => (await fetch(`http://${lb}:8080/`).then(() => false, () => true)));
  assert.equal((await lab.kubectl(['patch', 'svc', 'web-public', '-p', '{"spec":{"type":"LoadBalancer"}}'])).code, 0);
  const lbAgain = await waitFor('a load-balancer address again', () => (client.get('v1', 'Service', 'default', 'web-public')?.status as Obj | undefined)?.loadBalancer?.ingress?.[0]?.ip as string | undefined);

  // `ferry lab status` reads the lab's files (as `ferry lab up` writes them) and the clusters' APIs.
  const state: LabState = {
    pid: process.pid, dir: lab.dir, kubeconfig: lab.kubeconfigFile, pods: 'processes', startedAt: new Date().toISOString(),
    clusters: [{ name: 'source', url: lab.clusters[0]!.url, context: 'source', ingress: lab.clusters[0]!.ingress!.url }],
  };
  writeFileSync(labFiles(lab.dir).state, JSON.stringify(state));
  const json = await ferryAsync(['lab', 'status', '--dir', lab.dir, '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as LabStatusReport;
  const source = report.clusters[0]!;
  assert.equal(source.api, lab.clusters[0]!.url);
  assert.equal(source.ingress, lab.clusters[0]!.ingress!.url);
  const lbPorts = (client.get('v1', 'Service', 'default', 'web-public')?.spec as Obj).ports as Obj[];
  assert.deepEqual(source.services.find((s) => s.name === 'web-public'), {
    namespace: 'default', name: 'web-public', type: 'LoadBalancer',
    addresses: [`${lbAgain}:8080`, `${lbAgain}:9090`, ...lbPorts.map((port) => `127.0.0.1:${port.nodePort}`)],
  });
  assert.deepEqual(source.services.find((s) => s.name === 'web-node')?.addresses, [`127.0.0.1:${nodePort}`]);
  assert.ok(lab.clusters[0]!.network, 'pods as processes come with service networking');
  assert.equal(source.eastWest, `${lab.clusters[0]!.network.eastWest.host}:${lab.clusters[0]!.network.eastWest.port}`);
  assert.ok(!source.services.some((s) => s.namespace === 'ferry-system'), 'the east-west gateway is its own row, not a user Service');

  const table = await ferryAsync(['lab', 'status', '--dir', lab.dir]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /CLUSTER\s+WHAT\s+NAME\s+ADDRESS/);
  assert.match(table.stdout, new RegExp(`source\\s+LoadBalancer\\s+default/web-public\\s+${lbAgain.replace(/\./g, '\\.')}:8080`));
  assert.match(table.stdout, new RegExp(`source\\s+ingress\\s+${lab.clusters[0]!.ingress!.url.replace(/[./]/g, '\\$&')}`));
});
