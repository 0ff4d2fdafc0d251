/**
 * `ferry.dev/echo`: answers every request with JSON saying who answered — service, pod,
 * cluster, version — and what was asked. Response size is set per request (`?size=N`
 * bytes) or for the process (ECHO_RESPONSE_BYTES). Also the stand-in for images the lab
 * cannot run: it then listens on all of the container's mapped ports (FERRY_LISTEN).
 */
import { serveApp, sendJson } from './serve.js';

const defaultSize = Number(process.env.ECHO_RESPONSE_BYTES ?? 0);

await serveApp({
  handle(request, response, body) {
    const url = new URL(request.url ?? '/', 'http://lab');
    const reply: Record<string, unknown> = {
      service: process.env.FERRY_APP ?? 'echo',
      version: process.env.FERRY_VERSION ?? 'latest',
      pod: process.env.FERRY_POD ?? process.env.HOSTNAME ?? '',
      namespace: process.env.FERRY_NAMESPACE ?? '',
      cluster: process.env.FERRY_CLUSTER ?? '',
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
});
