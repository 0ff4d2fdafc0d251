import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { authoriseBearer, readJsonBody, sendAdminError, tokenDigest } from '../util/admin-http.js';
import { FerryError } from '../util/errors.js';
import { startDatabaseEndpoint, type DatabaseEndpoint } from './endpoint.js';
import type { Side } from './provider.js';

/**
 * `ferry data endpoint`: the database endpoint as a process of its own, with a small admin
 * API Ferry re-points it through (`data.clientAccess.type: endpoint`):
 *
 *   GET /healthz   ok
 *   GET /side      {"side": "source", "backend": "127.0.0.1:5432", "connections": 3}
 *   PUT /side      {"side": "target"}  (bearer token) → {"side", "changed", "closed"}
 *
 * A PUT for the side it already serves changes nothing and closes nothing. The admin API
 * listens on loopback only; without a token it is read-only. With a state file the side
 * survives a restart (written and fsync'd before the switch is answered), so a restarted
 * endpoint does not send the applications back to a database that refuses their writes.
 */
export interface HostPort {
  host: string;
  port: number;
}

export interface EndpointServiceOptions {
  listen: HostPort;
  admin: HostPort;
  sides: Record<Side, HostPort>;
  /** Side served at start when no state file says otherwise (default source). */
  side?: Side;
  token?: string;
  stateFile?: string;
}

export interface EndpointService {
  listen: HostPort;
  adminUrl: string;
  side(): Side;
  endpoint: DatabaseEndpoint;
  close(): Promise<void>;
}

export function parseHostPort(value: string, flag: string): HostPort {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !host || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FerryError('usage', `${flag} "${value}" is not host:port`, { fix: `e.g. ${flag} 127.0.0.1:6432` });
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startEndpointService(options: EndpointServiceOptions): Promise<EndpointService> {
  if (!isLoopback(options.admin.host)) {
    throw new FerryError('usage', `the admin API must listen on loopback, not ${options.admin.host}`, { fix: '--admin 127.0.0.1:PORT (reach it from elsewhere through a tunnel you control)' });
  }
  let side: Side = readState(options.stateFile) ?? options.side ?? 'source';
  const endpoint = await startDatabaseEndpoint(options.sides[side], { host: options.listen.host, port: options.listen.port });
  const expected = options.token ? tokenDigest(options.token) : undefined;
  const switchTo = (next: Side): { side: Side; changed: boolean; closed: number } => {
    if (next === side) return { side, changed: false, closed: 0 };
    writeState(options.stateFile, next);
    side = next;
    return { side, changed: true, closed: endpoint.switchTo(options.sides[next]) };
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendAdminError(res, error, send));
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'ok');
    if (path !== '/side') return send(res, 404, { code: 'not-found', message: `no admin endpoint ${req.method} ${path}` });
    if (req.method === 'GET') {
      const backend = options.sides[side];
      return send(res, 200, { side, backend: `${backend.host}:${backend.port}`, connections: endpoint.connections() });
    }
    if (req.method !== 'PUT') return send(res, 405, { code: 'method', message: `${req.method} is not supported` });
    authoriseBearer(req, expected, { message: 'the endpoint admin API is read-only: it was started without a token', fix: 'start `ferry data endpoint` with its --token-env variable set' });
    const next = ((await readJsonBody(req, 4096)) as { side?: unknown }).side;
    if (next !== 'source' && next !== 'target') throw new FerryError('usage', 'body must be {"side": "source"} or {"side": "target"}', { fix: 'send the side the applications should reach' });
    return send(res, 200, switchTo(next));
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.admin.port, options.admin.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const printable = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    listen: { host: endpoint.host, port: endpoint.port },
    adminUrl: `http://${printable}:${address.port}`,
    side: () => side,
    endpoint,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await endpoint.close();
    },
  };
}

function readState(file: string | undefined): Side | undefined {
  if (!file || !existsSync(file)) return undefined;
  const side = (JSON.parse(readFileSync(file, 'utf8')) as { side?: unknown }).side;
  if (side !== 'source' && side !== 'target') throw new FerryError('usage', `state file ${file} names no side`, { location: { file }, fix: 'delete it and pass --side' });
  return side;
}

/** Written beside, fsync'd, renamed: a crash leaves the old state or the new one, never half. */
function writeState(file: string | undefined, side: Side): void {
  if (!file) return;
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ side })}\n`, { mode: 0o600 });
  const fd = openSync(temporary, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temporary, file);
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'content-type': typeof value === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'cache-control': 'no-store' }).end(text);
}
