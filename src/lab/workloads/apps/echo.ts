/**
 * `ferry.dev/echo`: answers every request with JSON saying who answered — service, pod,
 * cluster, version — and what was asked. Response size is set per request (`?size=N`
 * bytes) or for the process (ECHO_RESPONSE_BYTES). Also the stand-in for images the lab
 * cannot run: it then listens on all of the container's mapped ports (FERRY_LISTEN).
 *
 * WebSocket upgrades on any of its ports: each message is answered with one text message,
 * JSON `{service, version, pod, namespace, cluster, message}` (`message` is the text sent;
 * a binary message comes back base64 with `binary: true`). On SIGTERM it behaves as a
 * well-kept server does when its pod is deleted: it keeps answering open connections for
 * a short drain (WS_DRAIN_MS, default 500 ms: the time the Endpoints update needs to stop new
 * connections arriving), then closes each with 1001 (going away) so that clients reconnect,
 * and exits once the closing handshakes are done (at most 1 s later).
 */
import { serveApp, sendJson } from './serve.js';
import { CLOSE_GOING_AWAY, acceptWebSocket, type WebSocketConnection } from './websocket.js';

const defaultSize = Number(process.env.ECHO_RESPONSE_BYTES ?? 0);
const drainMs = Number(process.env.WS_DRAIN_MS ?? 500);

const identity = {
  service: process.env.FERRY_APP ?? 'echo',
  version: process.env.FERRY_VERSION ?? 'latest',
  pod: process.env.FERRY_POD ?? process.env.HOSTNAME ?? '',
  namespace: process.env.FERRY_NAMESPACE ?? '',
  cluster: process.env.FERRY_CLUSTER ?? '',
};

const sockets = new Set<WebSocketConnection>();

await serveApp({
  handle(request, response, body) {
    const url = new URL(request.url ?? '/', 'http://lab');
    const reply: Record<string, unknown> = {
      ...identity,
      image: process.env.FERRY_IMAGE ?? 'ferry.dev/echo',
      standIn: process.env.FERRY_RUN_KIND === 'stand-in',
      method: request.method,
      host: request.headers.host,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      port: request.socket.localPort,
      requestBytes: body.length,
    };
    const size = Number(url.searchParams.get('size') ?? defaultSize);
    if (Number.isFinite(size) && size > 0) {
      const base = JSON.stringify({ ...reply, padding: '' }).length;
      reply.padding = 'x'.repeat(Math.max(0, Math.min(size, 64 * 1024 * 1024) - base));
    }
    sendJson(response, 200, reply);
  },
  upgrade(request, socket, head) {
    const connection = acceptWebSocket(request, socket, head, (open, message) => {
      const text = message.binary ? { message: message.data.toString('base64'), binary: true } : { message: message.data.toString('utf8') };
      open.send(JSON.stringify({ ...identity, ...text }));
    });
    if (!connection) return;
    sockets.add(connection);
    void connection.closed.then(() => sockets.delete(connection));
  },
  async shutdown() {
    if (sockets.size === 0) return;
    if (Number.isFinite(drainMs) && drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
    await Promise.all([...sockets].map((connection) => connection.close(CLOSE_GOING_AWAY, 'server shutting down')));
  },
});
