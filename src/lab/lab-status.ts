/**
 * `ferry lab status`: where each cluster of a running lab answers — its API, its ingress, its
 * east-west gateway and the Services that have addresses outside the cluster (LoadBalancer
 * addresses, node ports). The addresses of Services are read live from each cluster's API
 * through the lab's kubeconfig, as a user's kubectl would; the rest from `lab.json`.
 */
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { KubeObject } from '../kube/object.js';
import type { LabState } from './state.js';

type Obj = Record<string, any>;

export interface ExposedService {
  namespace: string;
  name: string;
  type: 'LoadBalancer' | 'NodePort';
  /** `ip:port` for each load-balancer port, then `127.0.0.1:nodePort` for each node port. */
  addresses: string[];
}

export interface LabClusterStatus {
  name: string;
  context: string;
  /** The API server, https://127.0.0.1:P (also `url`, as `lab.json` says it). */
  api: string;
  url: string;
  /** The cluster's ingress, http://host:port, when it serves one. */
  ingress?: string;
  /** The east-west gateway, host:port, when the cluster has service networking. */
  eastWest?: string;
  services: ExposedService[];
  /** Why the cluster's Services could not be read. */
  error?: string;
}

export type LabStatusReport = Omit<LabState, 'clusters'> & { running: boolean; clusters: LabClusterStatus[] };

const EAST_WEST_ANNOTATION = 'lab.ferry.dev/east-west-gateway';

export async function labStatusReport(state: LabState & { running: boolean }): Promise<LabStatusReport> {
  const clusters = await Promise.all(state.clusters.map(async (cluster): Promise<LabClusterStatus> => {
    const base: LabClusterStatus = {
      name: cluster.name,
      context: cluster.context,
      api: cluster.url,
      url: cluster.url,
      ...(cluster.ingress ? { ingress: cluster.ingress } : {}),
      ...(cluster.eastWest ? { eastWest: cluster.eastWest } : {}),
      services: [],
    };
    if (!state.running) return base;
    const client = new KubeClient(loadKubeConfig({ kubeconfig: state.kubeconfig, context: cluster.context }));
    try {
      const list = await client.request<{ items: KubeObject[] }>({ path: '/api/v1/services' });
      const services = list.items.filter((service) => ['LoadBalancer', 'NodePort'].includes((service.spec as Obj | undefined)?.type));
      const gateway = services.find((service) => service.metadata.annotations?.[EAST_WEST_ANNOTATION]);
      if (!base.eastWest && gateway) base.eastWest = gateway.metadata.annotations![EAST_WEST_ANNOTATION];
      // The gateway has its own row; its node ports lead nowhere (it is reached at its address).
      base.services = services.filter((service) => service !== gateway).map(exposed).sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    } catch (error) {
      base.error = (error as Error).message;
    } finally {
      client.close();
    }
    return base;
  }));
  return { ...state, clusters };
}

function exposed(service: KubeObject): ExposedService {
  const spec = (service.spec ?? {}) as Obj;
  const ports = (spec.ports ?? []) as Obj[];
  const ingress = ((service.status as Obj | undefined)?.loadBalancer?.ingress ?? []) as Obj[];
  const addresses: string[] = [];
  if (spec.type === 'LoadBalancer') {
    for (const entry of ingress) for (const port of ports) addresses.push(`${entry.ip ?? entry.hostname}:${port.port}`);
  }
  for (const port of ports) if (port.nodePort) addresses.push(`127.0.0.1:${port.nodePort}`);
  return { namespace: service.metadata.namespace ?? 'default', name: service.metadata.name, type: spec.type, addresses };
}

/** Rows of `ferry lab status`'s table: one per address. */
export function labStatusRows(report: LabStatusReport): Array<Array<string>> {
  const rows: string[][] = [];
  for (const cluster of report.clusters) {
    rows.push([cluster.name, 'api', '', cluster.api]);
    if (cluster.ingress) rows.push([cluster.name, 'ingress', '', cluster.ingress]);
    if (cluster.eastWest) rows.push([cluster.name, 'east-west', '', cluster.eastWest]);
    for (const service of cluster.services) {
      rows.push([cluster.name, service.type, `${service.namespace}/${service.name}`, service.addresses.join(', ') || (service.type === 'LoadBalancer' ? '<pending>' : '<none>')]);
    }
    if (cluster.error) rows.push([cluster.name, 'error', '', cluster.error]);
  }
  return rows;
}
