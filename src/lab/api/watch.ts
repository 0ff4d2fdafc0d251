/**
 * Watch streams: replay events after the requested resourceVersion from the store's
 * ring (or a 410 Expired ERROR event when it no longer reaches back), then follow live
 * changes. Objects that move in or out of a selector arrive as ADDED / DELETED, as the
 * API server's watch cache does. One serialization per event is shared by every plain
 * JSON watcher of that event.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../kube/object.js';
import type { ObjectStore, StoreEvent } from './store.js';
import { gone } from './status.js';

export interface WatchFilter {
  resource: string;
  namespace: string | undefined;
  matches(object: KubeObject): boolean;
}

export interface WatchOptions {
  /** undefined or '0': start with ADDED events for what exists now. */
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  /** Turns an object into what the stream sends (version rewrite, Table…); undefined = send as stored. */
  render?: (object: KubeObject) => unknown;
  sendInitialEvents?: boolean;
  allowBookmarks?: boolean;
}

const encoded = new WeakMap<KubeObject, Map<string, string>>();

function line(type: string, object: KubeObject, render: WatchOptions['render']): string {
  if (render) return `${JSON.stringify({ type, object: render(object) })}\n`;
  let byType = encoded.get(object);
  if (!byType) {
    byType = new Map();
    encoded.set(object, byType);
  }
  let text = byType.get(type);
  if (text === undefined) {
    text = `{"type":"${type}","object":${JSON.stringify(object)}}\n`;
    byType.set(type, text);
  }
  return text;
}

/** Serves one watch on an HTTP response; resolves when the stream ends. */
export function serveWatch(store: ObjectStore, res: ServerResponse, filter: WatchFilter, options: WatchOptions, listAll: () => KubeObject[]): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const write = (text: string) => {
    if (!res.writableEnded) res.write(text);
  };
  const inScope = (event: StoreEvent) =>
    event.resource === filter.resource && (filter.namespace === undefined || event.object.metadata.namespace === filter.namespace);

  const deliver = (event: StoreEvent) => {
    if (!inScope(event)) return;
    const now = filter.matches(event.object);
    const before = event.previous ? filter.matches(event.previous) : false;
    if (event.type === 'ADDED') {
      if (now) write(line('ADDED', event.object, options.render));
    } else if (event.type === 'MODIFIED') {
      if (now && before) write(line('MODIFIED', event.object, options.render));
      else if (now) write(line('ADDED', event.object, options.render));
      else if (before) write(line('DELETED', event.object, options.render));
    } else if (now || before) write(line('DELETED', event.object, options.render));
  };

  const rv = options.resourceVersion;
  if (rv === undefined || rv === '' || rv === '0' || options.sendInitialEvents) {
    for (const object of listAll()) write(line('ADDED', object, options.render));
    if (options.sendInitialEvents && options.allowBookmarks) {
      write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Status', apiVersion: 'v1', metadata: { resourceVersion: String(store.resourceVersion), annotations: { 'k8s.io/initial-events-end': 'true' } } } })}\n`);
    }
  } else {
    const events = /^\d+$/.test(rv) ? store.eventsSince(Number(rv)) : undefined;
    if (!events) {
      const error = gone(`too old resource version: ${rv} (${store.oldestResumable})`);
      write(`${JSON.stringify({ type: 'ERROR', object: error.toStatus() })}\n`);
      res.end();
      return Promise.resolve();
    }
    for (const event of events) deliver(event);
  }

  return new Promise((resolve) => {
    const unsubscribe = store.subscribe(deliver);
    const finish = () => {
      unsubscribe();
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
      resolve();
    };
    const timer = options.timeoutSeconds ? setTimeout(finish, options.timeoutSeconds * 1000) : undefined;
    timer?.unref();
    res.on('close', finish);
  });
}
