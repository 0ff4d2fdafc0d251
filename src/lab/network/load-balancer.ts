/**
 * What MetalLB (or cloud-provider-kind) and kube-proxy's NodePort rules do for a kind
 * cluster, for a lab cluster: a `LoadBalancer` Service gets a loopback address of its own in
 * `status.loadBalancer.ingress`, each of its ports answering there; `NodePort` and
 * `LoadBalancer` Services get nodePorts (30000–32767) when they have none, answering on the
 * node's address (127.0.0.1 and the Node's InternalIP). Connections are forwarded to the
 * Service's ready endpoints by the network's `forwardToService`, as a ClusterIP's are.
 *
 * Addresses: 127.<n>.200.1–254, where 127.<n>.0.0/16 is the cluster's (addresses.ts: read
 * back from its east-west gateway Service or a ClusterIP); 127.0.200.x when the cluster has no
 * range of its own. Listening is the claim, as for the gateway: an address some other process
 * already listens on for the same port is skipped, so parallel labs never share one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import type { ControllerClient } from '../controllers/client.js';
import { splitKey, type Controller } from '../controllers/manager.js';
import { recordEvent } from '../events.js';
import { forwardToService } from './forward.js';
import { tryListen } from './addresses.js';

type Obj = Record<string, any>;

export const NODE_PORT_FIRST = 30000;
export const NODE_PORT_LAST = 32767;
/** Third octet of load-balancer addresses in a cluster's /16. */
const LOAD_BALANCER_OCTET = 200;
/** The Service through which other clusters find this one's east-west gateway (contract 1). */
const GATEWAY_SERVICE = { namespace: 'ferry-system', name: 'east-west-gateway' };

export interface ServiceAddressOptions {
  /** The Node whose InternalIP NodePorts answer on (besides 127.0.0.1). */
  nodeName: string;
  random?: () => number;
}

export interface ServiceAddressController extends Controller {
  /** Where a Service answers now: `ip:port` of its load-balancer ports and node ports. */
  addresses(namespace: string, name: string): string[];
  close(): Promise<void>;
}

/** Load-balancer addresses handed out in this process, so two clusters of one lab never take the same. */
const takenAddresses = new Set<string>();
/** Node ports allocated in this process, so two clusters of one process do not both want 127.0.0.1:N. */
const takenNodePorts = new Set<number>();

interface Listener {
  server: Server;
  sockets: Set<Socket>;
}

interface ServiceState {
  /** The load-balancer address this controller gave the Service. */
  ip?: string;
  /** `host:port` → listener. */
  listeners: Map<string, Listener>;
  /** Failures already reported as Events, so a retry does not repeat them. */
  reported: Set<string>;
}

export function serviceAddressController(client: ControllerClient, options: ServiceAddressOptions): ServiceAddressController {
  const random = options.random ?? Math.random;
  const states = new Map<string, ServiceState>();
  /** nodePorts this controller allocated, by Service, released to the process when the Service goes. */
  const allocated = new Map<string, number[]>();
  const running = new Map<string, Promise<void>>();
  let closed = false;

  const stateOf = (key: string): ServiceState => {
    let state = states.get(key);
    if (!state) {
      state = { listeners: new Map(), reported: new Set() };
      states.set(key, state);
    }
    return state;
  };

  const teardown = async (key: string): Promise<void> => {
    for (const port of allocated.get(key) ?? []) takenNodePorts.delete(port);
    allocated.delete(key);
    const state = states.get(key);
    if (!state) return;
    states.delete(key);
    if (state.ip) takenAddresses.delete(state.ip);
    await Promise.all([...state.listeners.values()].map(closeListener));
  };

  const warn = (service: KubeObject, state: ServiceState, reason: string, message: string) => {
    if (state.reported.has(message)) return;
    state.reported.add(message);
    try {
      recordEvent(client, service, 'Warning', reason, message);
    } catch {
      // an Event is information; the Service may be gone already
    }
  };

  /** nodePorts in use by this cluster's Services (real clusters refuse duplicates; we just avoid them). */
  const clusterNodePorts = (): Set<number> => {
    const used = new Set<number>();
    for (const service of client.list('v1', 'Service')) for (const port of ((service.spec as Obj | undefined)?.ports ?? []) as Obj[]) if (port.nodePort) used.add(Number(port.nodePort));
    return used;
  };

  const allocateNodePort = async (): Promise<number> => {
    const used = clusterNodePorts();
    const size = NODE_PORT_LAST - NODE_PORT_FIRST + 1;
    const start = Math.floor(random() * size);
    for (let i = 0; i < size; i++) {
      const port = NODE_PORT_FIRST + ((start + i) % size);
      if (used.has(port) || takenNodePorts.has(port)) continue;
      if (!(await portFree('127.0.0.1', port))) continue;
      takenNodePorts.add(port);
      return port;
    }
    throw new Error(`no free nodePort left in ${NODE_PORT_FIRST}-${NODE_PORT_LAST}`);
  };

  const nodeAddresses = (): string[] => {
    const node = client.get('v1', 'Node', undefined, options.nodeName);
    const internal = (((node?.status as Obj | undefined)?.addresses ?? []) as Obj[]).find((address) => address.type === 'InternalIP')?.address as string | undefined;
    return internal && internal !== '127.0.0.1' && /^127\./.test(internal) ? ['127.0.0.1', internal] : ['127.0.0.1'];
  };

  const open = async (key: string, state: ServiceState, host: string, port: number, servicePort: number): Promise<NodeJS.ErrnoException | undefined> => {
    const id = `${host}:${port}`;
    if (state.listeners.has(id)) return undefined;
    const { namespace, name } = splitKey(key);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      void forwardToService(socket, client, namespace ?? 'default', name, servicePort);
    });
    const error = await tryListen(server, host, port);
    if (error) return error;
    state.listeners.set(id, { server, sockets });
    return undefined;
  };

  /** Listens on every port of `ports` at one address, the first of 127.<n>.200.1–254 free for all of them. */
  const claimAddress = async (key: string, state: ServiceState, ports: Obj[]): Promise<string | undefined> => {
    const octet = clusterOctet(client) ?? 0;
    for (let last = 1; last <= 254; last++) {
      const ip = `127.${octet}.${LOAD_BALANCER_OCTET}.${last}`;
      if (takenAddresses.has(ip)) continue;
      const opened: string[] = [];
      let conflict = false;
      for (const port of ports) {
        const error = await open(key, state, ip, Number(port.port), Number(port.port));
        if (!error) opened.push(`${ip}:${port.port}`);
        else if (error.code === 'EADDRINUSE') {
          conflict = true;
          break;
        } else if (error.code === 'EADDRNOTAVAIL') return undefined;
        // EACCES (a port below 1024 without privileges) is reported by the caller; the address is still ours.
      }
      if (!conflict) {
        takenAddresses.add(ip);
        return ip;
      }
      for (const id of opened) {
        const listener = state.listeners.get(id);
        state.listeners.delete(id);
        if (listener) await closeListener(listener);
      }
    }
    return undefined;
  };

  const reconcileService = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const service = client.get('v1', 'Service', namespace, name);
    const spec = (service?.spec ?? {}) as Obj;
    const type = spec.type as string | undefined;
    if (!service || (type !== 'NodePort' && type !== 'LoadBalancer')) {
      const ip = states.get(key)?.ip;
      await teardown(key);
      // A Service that stopped being a LoadBalancer loses the address we gave it.
      const ingress = ((service?.status as Obj | undefined)?.loadBalancer?.ingress ?? []) as Obj[];
      if (service && ip && ingress.some((entry) => entry.ip === ip)) client.setStatus(service, { ...(service.status as Obj), loadBalancer: {} });
      return;
    }
    const ports = (spec.ports ?? []) as Obj[];
    const tcpPorts = ports.filter((port) => (port.protocol ?? 'TCP') === 'TCP');

    // 1. nodePorts, as the API server allocates them (here just after the write that needed them).
    if (type === 'NodePort' || spec.allocateLoadBalancerNodePorts !== false) {
      const missing = ports.filter((port) => !port.nodePort);
      if (missing.length > 0) {
        const copy = structuredClone(service);
        for (const port of ((copy.spec as Obj).ports ?? []) as Obj[]) {
          if (port.nodePort) continue;
          port.nodePort = await allocateNodePort();
          allocated.set(key, [...(allocated.get(key) ?? []), port.nodePort as number]);
        }
        client.update(copy);
        return; // the update's event brings the Service back here with its nodePorts
      }
    }

    const state = stateOf(key);
    const wanted = new Set<string>();
    for (const port of tcpPorts) {
      if (!port.nodePort) continue;
      for (const host of nodeAddresses()) {
        wanted.add(`${host}:${port.nodePort}`);
        const error = await open(key, state, host, Number(port.nodePort), Number(port.port));
        if (error) warn(service, state, 'NodePortNotListening', `cannot listen on ${host}:${port.nodePort} for port ${port.port}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (another lab cluster or program holds it)' : ''}`);
      }
    }

    // 2. The load-balancer address, unless another implementation owns this Service: a
    // loadBalancerClass that is not ours, or an address in its status that we did not give.
    const ingress = ((service.status as Obj | undefined)?.loadBalancer?.ingress ?? []) as Obj[];
    const foreign = ingress.length > 0 && !ingress.some((entry) => entry.ip !== undefined && entry.ip === state.ip);
    if (type === 'LoadBalancer' && !spec.loadBalancerClass && !foreign) {
      state.ip ??= await claimAddress(key, state, tcpPorts);
      if (state.ip) {
        for (const port of tcpPorts) {
          const id = `${state.ip}:${port.port}`;
          wanted.add(id);
          const error = await open(key, state, state.ip, Number(port.port), Number(port.port));
          if (error) {
            const hint = error.code === 'EACCES' ? `; ports below 1024 need root or net.ipv4.ip_unprivileged_port_start${port.nodePort ? `, use the nodePort 127.0.0.1:${port.nodePort}` : ''}` : '';
            warn(service, state, 'LoadBalancerPortNotListening', `cannot listen on ${id}: ${error.code ?? error.message}${hint}`);
          }
        }
        const next = [{ ip: state.ip }];
        if (JSON.stringify(ingress) !== JSON.stringify(next)) client.setStatus(service, { ...((service.status as Obj | undefined) ?? {}), loadBalancer: { ingress: next } });
      } else {
        warn(service, state, 'AllocationFailed', 'no free load-balancer address on loopback');
      }
    } else if (foreign && state.ip) {
      takenAddresses.delete(state.ip);
      delete state.ip;
    }

    // 3. Ports the Service no longer has.
    for (const [id, listener] of state.listeners) {
      if (wanted.has(id)) continue;
      state.listeners.delete(id);
      await closeListener(listener);
    }
  };

  return {
    name: 'service-addresses',
    keysFor(event: StoreEvent) {
      return event.resource === '/services' ? [`${event.object.metadata.namespace}/${event.object.metadata.name}`] : [];
    },
    initialKeys: () => client.list('v1', 'Service').map((service) => `${service.metadata.namespace}/${service.metadata.name}`),
    async reconcile(key) {
      if (closed) return;
      // One reconcile of a Service at a time: listeners are opened across awaits.
      const previous = running.get(key) ?? Promise.resolve();
      const current = previous.then(() => (closed ? undefined : reconcileService(key)));
      running.set(key, current.catch(() => undefined));
      try {
        await current;
      } finally {
        if (running.get(key) === current) running.delete(key);
      }
    },
    addresses(namespace, name) {
      return [...(states.get(`${namespace}/${name}`)?.listeners.keys() ?? [])];
    },
    async close() {
      closed = true;
      await Promise.all([...running.values()]);
      await Promise.all([...states.keys()].map(teardown));
    },
  };
}

/**
 * The second octet of the cluster's 127.<n>.0.0/16, read back from what the network wrote:
 * its east-west gateway Service's address (127.<n>.255.254), else the `kubernetes` Service's
 * ClusterIP; undefined when the cluster has no loopback range (10.96.x.y ClusterIPs).
 */
export function clusterOctet(client: ControllerClient): number | undefined {
  const gateway = client.get('v1', 'Service', GATEWAY_SERVICE.namespace, GATEWAY_SERVICE.name);
  const candidates = [
    ...(((gateway?.status as Obj | undefined)?.loadBalancer?.ingress ?? []) as Obj[]).map((entry) => entry.ip as string | undefined),
    (client.get('v1', 'Service', 'default', 'kubernetes')?.spec as Obj | undefined)?.clusterIP as string | undefined,
  ];
  for (const ip of candidates) {
    const match = /^127\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(ip ?? '');
    if (match && Number(match[1]) > 0) return Number(match[1]);
  }
  return undefined;
}


async function portFree(host: string, port: number): Promise<boolean> {
  const server = createServer();
  const error = await tryListen(server, host, port);
  if (error) return false;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return true;
}

function closeListener(listener: Listener): Promise<void> {
  for (const socket of listener.sockets) socket.destroy();
  return new Promise((resolve) => listener.server.close(() => resolve()));
}
