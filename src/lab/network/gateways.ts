/**
 * Which address:port pairs are east-west gateways. An Endpoints address at one of them is
 * not a pod: a forwarder reaches it by CONNECT through the gateway with the FQDN of the
 * Service being called, as Istio's AUTO_PASSTHROUGH gateways route by SNI.
 *
 * Process-wide, so a cluster's forwarders recognise any lab cluster's gateway; a gateway of
 * a lab in another process (e.g. the `ferry lab up` daemon) is recognised by its fixed
 * address shape (127.<n>.255.254:15443, see addresses.ts).
 */
import { EAST_WEST_PORT, isGatewayAddress } from './addresses.js';

export interface GatewayEntry {
  /** The lab cluster the gateway belongs to. */
  cluster: string;
  host: string;
  port: number;
}

const gateways = new Map<string, GatewayEntry>();

export function registerGateway(entry: GatewayEntry): () => void {
  const key = `${entry.host}:${entry.port}`;
  gateways.set(key, entry);
  return () => {
    if (gateways.get(key) === entry) gateways.delete(key);
  };
}

/** The gateway at host:port, or undefined when that address is (as far as we know) a pod. */
export function gatewayAt(host: string, port: number): GatewayEntry | undefined {
  const known = gateways.get(`${host}:${port}`);
  if (known) return known;
  if (port === EAST_WEST_PORT && isGatewayAddress(host)) return { cluster: 'unknown', host, port };
  return undefined;
}
