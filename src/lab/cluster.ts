/**
 * One lab cluster in this process: the store, the API server on a loopback port, the
 * controllers and (optionally) the pod runtime that runs pods as local processes.
 * `startLabCluster({ name })` is what tests call; `startLab` starts several.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../kube/object.js';
import { ObjectStore } from './api/store.js';
import { ResourceRegistry } from './api/registry.js';
import { ObjectService } from './api/objects.js';
import { startApiServer, type ApiServer } from './api/server.js';
import type { ApiFaults } from './api/faults.js';
import { generateCertificates, type LabCertificates } from './tls.js';
import { buildKubeconfig } from './kubeconfig.js';
import { bootstrapObjects, nodeStatus } from './bootstrap.js';
import { meshApiDefinitions } from './network/mesh-apis.js';
import { ControllerManager } from './controllers/manager.js';
import { ControllerClient } from './controllers/client.js';
import { deploymentController } from './controllers/deployment.js';
import { replicaSetController } from './controllers/replicaset.js';
import { statefulSetController } from './controllers/statefulset.js';
import { jobController } from './controllers/job.js';
import { cronJobController } from './controllers/cronjob.js';
import { podController } from './controllers/pod.js';
import { endpointsController } from './controllers/endpoints.js';
import { volumeController } from './controllers/volumes.js';
import { namespaceController } from './controllers/namespace.js';
import { garbageCollector } from './controllers/garbage-collector.js';
import { crdStatusController, watchDefinitions } from './controllers/crd.js';
import type { PodRuntime, PodRunStatus } from './runtime.js';
import type { ClusterIngress } from './workloads/ingress.js';
import { startLabIngress } from './ingress-wiring.js';
import { kubeletEvents, serveEventsV1 } from './events.js';
import { serviceAddressController } from './network/load-balancer.js';
import { ingressStatusController } from './controllers/ingress-status.js';
import { reserveLabNetwork, type LabNetwork, type ReservedNetwork } from './network/index.js';

export interface LabClusterOptions {
  name: string;
  /** Loopback port; 0 (default) asks the OS. */
  port?: number;
  token?: string;
  certificates?: LabCertificates;
  /**
   * 'processes' runs pods as local processes through src/lab/runtime.ts; 'simulated'
   * (the default for in-process API tests) reports pods Running and Ready at once.
   */
  pods?: 'processes' | 'simulated';
  /** Where provisioned volumes live (default: a temp dir). */
  dataDir?: string;
  /** Events kept for watch resumption (default 50,000). */
  watchHistory?: number;
  /** Randomness for faults (tests pass a seeded one). */
  random?: () => number;
  /** Runtime options (time scale etc.) when pods are processes. */
  runtimeOptions?: Record<string, unknown>;
  /** Serve the cluster's Ingresses on a loopback address (default: when pods are processes). */
  ingress?: boolean;
  /** Service networking: loopback ClusterIPs, the service proxy, the east-west gateway (default: when pods are processes). */
  network?: boolean;
  /** Serve Istio's networking types (VirtualService, DestinationRule, ServiceEntry) that the service networking honours, as an installed mesh does. */
  mesh?: boolean;
}

export interface LabCluster {
  name: string;
  url: string;
  port: number;
  token: string;
  caPem: string;
  /** A kubeconfig (YAML) with one context named after the cluster. */
  kubeconfig: string;
  service: ObjectService;
  runtime: PodRuntime | undefined;
  /** The cluster's ingress address (http://127.0.0.1:port), when it serves one. */
  ingress: ClusterIngress | undefined;
  /** Service networking (src/lab/network/): the service proxy, east-west gateway and telemetry, when on. */
  network?: LabNetwork;
  faults(): ApiFaults;
  setFaults(faults: ApiFaults): void;
  /** A bearer token for a named user of this cluster (e.g. a second approver); see src/lab/lab-users.ts. */
  mintUserToken(username: string, groups?: string[]): string;
  /** Resolves when controllers have nothing left to do (tests). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLabCluster(options: LabClusterOptions): Promise<LabCluster> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const certificates = options.certificates ?? await generateCertificates(`ferry-lab-${options.name}`);
  // The ClusterIP range must be claimed before the first Service (bootstrap's `kubernetes`) is stored.
  const reserved: ReservedNetwork | undefined = (options.network ?? options.pods === 'processes') ? await reserveLabNetwork(options.name) : undefined;
  const store = new ObjectStore(options.watchHistory);
  const registry = new ResourceRegistry();
  const service = new ObjectService(store, registry);
  const allocate = reserved?.allocateClusterIP?.((ip) => store.list('/services').some((svc) => (svc.spec as { clusterIP?: string } | undefined)?.clusterIP === ip));
  if (allocate) service.clusterIPs = allocate;
  const stopDefinitions = watchDefinitions(store, registry, service.validator);
  const stopEventsV1 = serveEventsV1(service);
  const nodeName = `${options.name}-node`;
  const client = new ControllerClient(service);
  for (const object of [...bootstrapObjects(options.name, nodeName), ...(options.mesh ? meshApiDefinitions() : [])]) {
    client.create(object);
  }
  const node = client.get('v1', 'Node', undefined, nodeName)!;
  client.setStatus(node, nodeStatus(client.now()));

  let network: LabNetwork | undefined;
  try {
    network = await reserved?.start({ client, store, runtime: () => runtime });
  } catch (error) {
    await reserved?.release();
    throw error;
  }
  let runtime: PodRuntime | undefined;
  let toPodStatus: ((run: PodRunStatus, now?: string) => Record<string, unknown>) | undefined;
  if (options.pods === 'processes') {
    const module = await import('./runtime.js');
    toPodStatus = module.toPodStatus;
    runtime = module.createPodRuntime({
      cluster: options.name,
      handleSignals: false,
      lookup: (kind: 'ConfigMap' | 'Secret', namespace: string, name: string): KubeObject | undefined => client.get('v1', kind, namespace, name),
      recordEvent: kubeletEvents(service, nodeName),
      ...(network ? { podEnv: network.podEnv } : {}),
      ...(options.runtimeOptions ?? {}),
    });
  }
  // A kubelet that runs processes stops a deleted pod before it goes, as a real one does.
  if (runtime) service.gracefulPodDeletion = true;
  const dataDir = options.dataDir ?? join(tmpdir(), `ferry-lab-${options.name}-${process.pid}`);
  const serviceAddresses = serviceAddressController(client, { nodeName });
  const published: { ingress?: ClusterIngress } = {};
  const manager = new ControllerManager(store, [
    serviceAddresses,
    ingressStatusController(client, () => published.ingress),
    namespaceController(client),
    garbageCollector(client),
    crdStatusController(client),
    deploymentController(client),
    replicaSetController(client),
    statefulSetController(client),
    jobController(client),
    cronJobController(client),
    podController(client, { nodeName, ...(runtime ? { runtime } : {}), ...(toPodStatus ? { toPodStatus } : {}) }),
    endpointsController(client, runtime ? (namespace, name) => runtime!.get(namespace, name) : undefined),
    volumeController(client, join(dataDir, 'volumes')),
  ]);
  manager.start();

  let server: ApiServer;
  try {
    server = await startApiServer({ service, token, certPem: certificates.certPem, keyPem: certificates.keyPem, ...(runtime ? { pods: (namespace: string, name: string) => runtime!.get(namespace, name) } : {}), ...(options.port ? { port: options.port } : {}), ...(options.random ? { random: options.random } : {}) });
  } catch (error) {
    manager.stop();
    await runtime?.stopAll();
    await network?.close();
    throw error;
  }
  let ingress: ClusterIngress | undefined;
  if (options.ingress ?? options.pods === 'processes') ingress = await startLabIngress(options.name, client);
  published.ingress = ingress;
  const entry = { name: options.name, url: server.url, token, caPem: certificates.caPem };
  return {
    name: options.name,
    url: server.url,
    port: server.port,
    token,
    caPem: certificates.caPem,
    kubeconfig: buildKubeconfig([entry]),
    service,
    runtime,
    ingress,
    ...(network ? { network } : {}),
    faults: () => server.faults,
    setFaults: (faults) => server.setFaults(faults),
    mintUserToken: (username, groups) => server.mintUserToken(username, groups),
    settled: () => manager.idle(),
    async stop() {
      manager.stop();
      await serviceAddresses.close();
      stopDefinitions();
      stopEventsV1();
      await ingress?.close();
      await network?.close();
      await server.close();
      await runtime?.stopAll();
    },
  };
}

export interface LabOptions {
  clusters: string[];
  pods?: 'processes' | 'simulated';
  dataDir?: string;
  runtimeOptions?: Record<string, unknown>;
  /** Every cluster serves the mesh types its networking honours (see LabClusterOptions.mesh). */
  mesh?: boolean;
}

export interface Lab {
  clusters: LabCluster[];
  /** One kubeconfig with a context per cluster; the first is current. */
  kubeconfig: string;
  stop(): Promise<void>;
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const clusters: LabCluster[] = [];
  try {
    for (const name of options.clusters) {
      clusters.push(await startLabCluster({
        name, ...(options.pods ? { pods: options.pods } : {}), ...(options.dataDir ? { dataDir: join(options.dataDir, name) } : {}),
        ...(options.runtimeOptions ? { runtimeOptions: options.runtimeOptions } : {}),
        ...(options.mesh ? { mesh: true } : {}),
      }));
    }
  } catch (error) {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    throw error;
  }
  return {
    clusters,
    kubeconfig: buildKubeconfig(clusters.map((c) => ({ name: c.name, url: c.url, token: c.token, caPem: c.caPem }))),
    stop: async () => {
      await Promise.all(clusters.map((cluster) => cluster.stop()));
    },
  };
}
