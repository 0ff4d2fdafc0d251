/**
 * What the lab's network adds to a pod's environment, as a kubelet and a mesh would:
 * - the proxy variables naming the cluster's service proxy, with the pod's identity as
 *   userinfo (`http://<namespace>%2F<pod>:lab@127.0.0.1:P`), so proxy-aware clients (curl,
 *   undici's EnvHttpProxyAgent, grpc-js) reach Services by name and the proxy knows the caller;
 *   NO_PROXY for loopback, so direct calls (ClusterIPs, 127.0.0.1) skip the proxy;
 * - the kubelet's Docker-links-style Service variables for the Services of the pod's namespace
 *   (and `kubernetes` from default), unless `enableServiceLinks: false`
 *   (https://kubernetes.io/docs/concepts/services-networking/connect-applications-service/#environment-variables).
 */
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';
import { servicePorts } from './endpoints.js';

type Obj = Record<string, any>;

/** Every proxy variable name a client may read (curl reads lower-case http_proxy only; grpc-js reads grpc_proxy first). */
const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'grpc_proxy'];
/** 127.0.0.0/8 for clients that read CIDRs (curl ≥ 7.86, grpc-js); the proxy also dials loopback addresses itself. */
const NO_PROXY = 'localhost,127.0.0.1,127.0.0.0/8';

export function proxyEnv(proxyPort: number, namespace: string, pod: string): Record<string, string> {
  const url = `http://${encodeURIComponent(`${namespace}/${pod}`)}:lab@127.0.0.1:${proxyPort}`;
  const env: Record<string, string> = { NO_PROXY, no_proxy: NO_PROXY };
  for (const name of PROXY_VARIABLES) env[name] = url;
  return env;
}

/** The kubelet's `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT[_NAME]`, `{SVC}_PORT[_N_PROTO[_PROTO|_PORT|_ADDR]]` for the pod's namespace. */
export function serviceLinkEnv(client: ControllerClient, pod: KubeObject): Record<string, string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {};
  // The kubelet adds the master service (default/kubernetes) to every pod, then the pod's namespace's Services when links are on.
  const master = client.get('v1', 'Service', 'default', 'kubernetes');
  const services = (pod.spec as Obj | undefined)?.enableServiceLinks === false ? [] : client.list('v1', 'Service', namespace);
  for (const service of [...(master ? [master] : []), ...services]) Object.assign(env, linksOf(service));
  return env;
}

function linksOf(service: KubeObject): Record<string, string> {
  const spec = (service.spec ?? {}) as Obj;
  const ip = spec.clusterIP as string | undefined;
  if (!ip || ip === 'None' || spec.type === 'ExternalName') return {};
  const ports = servicePorts(service);
  if (ports.length === 0) return {};
  const prefix = envName(service.metadata.name);
  const first = ports[0]!;
  const env: Record<string, string> = {
    [`${prefix}_SERVICE_HOST`]: ip,
    [`${prefix}_SERVICE_PORT`]: String(first.port),
  };
  for (const port of ports) if (port.name) env[`${prefix}_SERVICE_PORT_${envName(port.name)}`] = String(port.port);
  env[`${prefix}_PORT`] = `${first.protocol.toLowerCase()}://${ip}:${first.port}`;
  for (const port of ports) {
    const base = `${prefix}_PORT_${port.port}_${port.protocol.toUpperCase()}`;
    env[base] = `${port.protocol.toLowerCase()}://${ip}:${port.port}`;
    env[`${base}_PROTO`] = port.protocol.toLowerCase();
    env[`${base}_PORT`] = String(port.port);
    env[`${base}_ADDR`] = ip;
  }
  return env;
}

function envName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}
