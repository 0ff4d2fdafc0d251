/**
 * Namespaces: each gets its `default` ServiceAccount; a namespace being deleted has
 * everything in it removed, then disappears itself.
 */
import type { StoreEvent } from '../api/store.js';
import { storageKey } from '../api/registry.js';
import { ControllerClient } from './client.js';
import type { Controller } from './manager.js';

export function namespaceController(client: ControllerClient): Controller {
  const service = client.service;
  return {
    name: 'namespace',
    keysFor(event: StoreEvent) {
      return event.resource === '/namespaces' && event.type !== 'DELETED' ? [event.object.metadata.name] : [];
    },
    initialKeys: () => client.list('v1', 'Namespace').map((ns) => ns.metadata.name),
    reconcile(name) {
      const namespace = client.get('v1', 'Namespace', undefined, name);
      if (!namespace) return;
      if (!namespace.metadata.deletionTimestamp) {
        if (!client.get('v1', 'ServiceAccount', name, 'default')) client.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } });
        return;
      }
      for (const type of service.registry.all()) {
        if (!type.namespaced) continue;
        for (const object of service.store.list(storageKey(type.group, type.plural), name)) service.purge(type, name, object.metadata.name);
      }
      service.purge(service.typeOf('v1', 'Namespace'), undefined, name);
    },
  };
}
