/**
 * The floor for a Node proxy, measured beside the router by bench/traffic.bench.ts: node:http
 * server + undici Pool dispatch() with a callback handler, copying status, headers and body
 * and nothing else (no routing, stickiness, metrics, retries, header filtering).
 * `node --import tsx bench/traffic-floor.ts PORT ORIGIN_URL`. If the router costs about what
 * this costs per request, what is left is node:http and undici, not the router's own code.
 */
import { createServer } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [port, origin] = process.argv.slice(2);
const pool = new Pool(origin!, { connections: 64, pipelining: 1 });
createServer((req, res) => {
  const handler: Dispatcher.DispatchHandler = {
    onConnect: () => undefined,
    onHeaders: (status: number, raw: Buffer[]) => {
      const headers: string[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) headers.push(raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1'));
      res.writeHead(status, headers);
      return true;
    },
    onData: (chunk: Buffer) => {
      res.write(chunk); // 100-byte bodies in the bench: no back-pressure to honour
      return true;
    },
    onComplete: () => void res.end(),
    onError: () => void res.destroy(),
  };
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers: req.rawHeaders, body: null }, handler);
}).listen(Number(port), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
