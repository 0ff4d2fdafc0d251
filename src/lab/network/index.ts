/**
 * Lab service networking for one cluster, on when pods are processes: ClusterIPs on loopback
 * (addresses.ts) listened on as kube-proxy would (cluster-ips.ts), a service proxy that
 * resolves every cluster DNS form for proxy-aware clients (proxy.ts, names.ts), an east-west
 * gateway other clusters reach this cluster's Services through (gateway.ts, gateways.ts),
 * Istio-shaped telemetry (telemetry.ts) and the pod environment that points at it all (env.ts).
 *
 * Two steps, because a cluster's ClusterIP range must be known before its first Service is
 * stored: `reserveLabNetwork` claims the range (by binding the gateway), `start` serves.
 */
import { createServer, type Server } from 'node:http';
import type { KubeObject } from '../../kube/object.js';
import type { ObjectStore } from '../api/store.js';
import type { ControllerClient } from '../controllers/client.js';
import type { PodRuntime } from '../runtime.js';
import { claimClusterRange, clusterIpAllocator, type ClusterRange } from './addresses.js';
import { listenOnClusterIps } from './cluster-ips.js';
import { proxyEnv, serviceLinkEnv } from './env.js';
import { attachNetwork } from './forward.js';
import { publishGatewayService, publishNetworkConfigMap } from './gateway.js';
import { registerGateway } from './gateways.js';
import { serveServiceProxy } from './proxy.js';
import { NetworkTelemetry } from './telemetry.js';

export { forwardToService, connectToService, pickEndpoints, networkOf, type ForwardOptions, type ServiceConnection } from './forward.js';
export { ServiceUnreachable } from './endpoints.js';
export { gatewayAt, registerGateway, type GatewayEntry } from './gateways.js';
export { resolveHost, type NameTarget } from './names.js';
export { EAST_WEST_PORT, isLoopback } from './addresses.js';
export { GATEWAY_NAMESPACE, GATEWAY_SERVICE, NETWORK_CONFIGMAP } from './gateway.js';
export { NetworkTelemetry, workloadOf, type Peer, type Destination } from './telemetry.js';
export { proxyEnv, serviceLinkEnv } from './env.js';

export interface LabNetwork {
  /** The cluster's service proxy, http://127.0.0.1:P (pods get it with their identity as userinfo). */
  proxyUrl: string;
  /** Where other clusters reach this cluster's Services (CONNECT or absolute-form to svc.ns.svc.cluster.local:port). */
  eastWest: { host: string; port: number };
  /** Istio-shaped telemetry (prom-client text). */
  metricsUrl: string;
  /** `127.<n>.0.0/16`, this cluster's ClusterIPs; undefined where loopback aliases do not exist (ClusterIPs stay 10.96.x.y, unlistened). */
  clusterIpRange: string | undefined;
  telemetry: NetworkTelemetry;
  /** The proxy variables and the kubelet's Service variables for a pod's containers. */
  podEnv(pod: KubeObject): Record<string, string>;
  /** `ip:port` of every ClusterIP port listened on. */
  clusterIpAddresses(): string[];
  /** Resolves when ClusterIP listeners for the Services stored so far are bound. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface ReservedNetwork {
  range: ClusterRange;
  /** ClusterIP allocator for the cluster's API server, when loopback aliases exist. */
  allocateClusterIP: ((taken: (ip: string) => boolean) => () => string) | undefined;
  start(options: { client: ControllerClient; store: ObjectStore; runtime(): PodRuntime | undefined }): Promise<LabNetwork>;
  /** Gives the range back without starting (the cluster failed to start). */
  release(): Promise<void>;
}

export async function reserveLabNetwork(cluster: string): Promise<ReservedNetwork> {
  const gatewayServer: Server = createServer();
  const range = await claimClusterRange(gatewayServer);
  const closeServer = (server: Server) => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return {
    range,
    allocateClusterIP: range.octet === undefined ? undefined : (taken) => clusterIpAllocator(range.octet!, taken),
    release: () => closeServer(gatewayServer),
    async start({ client, store, runtime }) {
      const telemetry = new NetworkTelemetry();
      const detach = attachNetwork(client, { cluster, telemetry, runtime });
      const gateway = serveServiceProxy({ role: 'gateway', cluster, client, telemetry, runtime }, gatewayServer);
      const unregister = registerGateway({ cluster, host: range.gatewayHost, port: range.gatewayPort });
      const proxy = serveServiceProxy({ role: 'proxy', cluster, client, telemetry, runtime });
      await new Promise<void>((resolve, reject) => {
        proxy.server.once('error', reject);
        proxy.server.listen(0, '127.0.0.1', () => resolve());
      });
      proxy.server.keepAliveTimeout = 65_000;
      const address = proxy.server.address();
      const proxyPort = typeof address === 'object' && address ? address.port : 0;
      publishGatewayService(client, { host: range.gatewayHost, port: range.gatewayPort });
      const clusterIps = listenOnClusterIps(cluster, store, client);
      const published = {
        proxyUrl: `http://127.0.0.1:${proxyPort}`,
        eastWest: { host: range.gatewayHost, port: range.gatewayPort },
        metricsUrl: `http://127.0.0.1:${proxyPort}/metrics`,
        clusterIpRange: range.octet === undefined ? undefined : `127.${range.octet}.0.0/16`,
      };
      publishNetworkConfigMap(client, published);
      return {
        ...published,
        telemetry,
        podEnv: (pod) => ({ ...serviceLinkEnv(client, pod), ...proxyEnv(proxyPort, pod.metadata.namespace ?? 'default', pod.metadata.name) }),
        clusterIpAddresses: () => clusterIps.addresses(),
        settled: () => clusterIps.settled(),
        async close() {
          unregister();
          await clusterIps.close();
          await Promise.all([proxy.close(), gateway.close()]);
          detach();
        },
      };
    },
  };
}
