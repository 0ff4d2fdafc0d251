/**
 * Ingress status, as ingress-nginx publishes it: every Ingress the cluster's ingress serves
 * gets `status.loadBalancer.ingress[{ip}]` = the address the ingress listens on. The lab's
 * ingress listens on a port the OS picks, so the port is in the entry's `ports` too (the v1
 * schema's IngressPortStatus), where `kubectl get ingress -o yaml` and `ferry lab status` show it.
 */
import type { StoreEvent } from '../api/store.js';
import type { ControllerClient } from './client.js';
import { splitKey, type Controller } from './manager.js';

export interface IngressAddress {
  host: string;
  port: number;
}

/** `address()` is undefined until the ingress listens (it starts after the controllers); reconciles wait for it. */
export function ingressStatusController(client: ControllerClient, address: () => IngressAddress | undefined): Controller {
  return {
    name: 'ingress-status',
    keysFor(event: StoreEvent) {
      return event.resource === 'networking.k8s.io/ingresses' ? [`${event.object.metadata.namespace}/${event.object.metadata.name}`] : [];
    },
    initialKeys: () => client.list('networking.k8s.io/v1', 'Ingress').map((ingress) => `${ingress.metadata.namespace}/${ingress.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const ingress = client.get('networking.k8s.io/v1', 'Ingress', namespace, name);
      if (!ingress || ingress.metadata.deletionTimestamp) return;
      const listening = address();
      if (!listening) return { requeueAfterMs: 200 };
      const status = (ingress.status ?? {}) as Record<string, unknown>;
      client.setStatus(ingress, { ...status, loadBalancer: { ingress: [{ ip: listening.host, ports: [{ port: listening.port, protocol: 'TCP' }] }] } });
      return undefined;
    },
  };
}
