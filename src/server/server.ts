/**
 * The dashboard's HTTP server (`ferry ui`, `ferry run --ui`): static assets from
 * `src/server/ui/` and uPlot's files from node_modules (no build step), a JSON API over the
 * run store, server-sent events per run, and Ferry's own metrics at `/metrics`.
 *
 * Hand-written over node:http rather than a framework: a dozen routes, and the checks that
 * matter here (token, Origin, Host, methods) are easier to see in one place than in middleware.
 *
 * Security: loopback by default; every `/api` and `/metrics` request needs a token (cookie or
 * bearer) — run names, slices and errors are not for whoever can reach the port. Mutations are
 * POST only, need `content-type: application/json` (a cross-site form cannot send it without a
 * CORS preflight, which is never granted), and a browser's `Origin` must be this server's.
 * The cookie is HttpOnly and SameSite=Strict. The Host header must name this server (DNS
 * rebinding), unless it listens on every address.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Journal } from '../journal/journal.js';
import type { MigrationPlan } from '../plan/schema.js';
import type { DriveOptions } from '../run/drive.js';
import type { RunFiles } from '../run/store.js';
import { FerryError, toFerryError } from '../util/errors.js';
import { approve, drive, requestStop, type ActionContext, type ActionResult } from './actions.js';
import { presentedToken, sessionCookie, TokenBook, type TokenIdentity } from './auth.js';
import { RunFeeds, type RecordObserver } from './live.js';
import { RunSummaries } from './runs.js';

/** What `/metrics` serves: a prom-client registry fed every record (`RunMetrics`, src/server/metrics.ts). */
export interface MetricsSource extends RecordObserver {
  registry: { metrics(): Promise<string>; contentType: string };
}

export interface UiServerOptions {
  stateDir: string;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** The starter's credentials: the printed token approves as the user the target cluster says they are. */
  kubeconfig?: string;
  context?: string;
  /** Team tokens: name → sha256 of the token. */
  tokensFile?: string;
  /** How resume and roll back started from the dashboard drive a run (journal trust, progress). */
  driveOptions?: Omit<DriveOptions, 'stateDir'>;
  metrics?: MetricsSource;
  /** Told what the server did (actions, drives ending), for the terminal. */
  log?: (line: string) => void;
}

export interface UiServer {
  /** The URL to open, token included. */
  url: string;
  origin: string;
  host: string;
  port: number;
  token: string;
  /** Runs this process drives now (resumed or rolled back from the page). */
  driving(): string[];
  /** Feeds a journal this process writes to the dashboard (`ferry run --ui`); returns the detach. */
  attachRun(journal: Journal, files: RunFiles, plan: MigrationPlan): () => void;
  close(): Promise<void>;
}

const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const VENDOR: Record<string, string> = { '/vendor/uPlot.esm.js': join(UPLOT_DIR, 'uPlot.esm.js'), '/vendor/uPlot.min.css': join(UPLOT_DIR, 'uPlot.min.css') };
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};
const KEEPALIVE_MS = 15_000;

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const { book, token } = TokenBook.create(options.tokensFile);
  const feeds = new RunFeeds(options.stateDir, options.metrics);
  // With metrics: finished runs are replayed into them once, runs still going are followed.
  if (options.metrics) feeds.watchAll();
  const summaries = new RunSummaries(options.stateDir, (id) => feeds.existing(id)?.state());
  const log = options.log ?? (() => undefined);
  const streams = new Set<ServerResponse>();
  const driving = new Set<string>();
  let port = options.port ?? 0;

  const actions: ActionContext = {
    stateDir: options.stateDir,
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    ...(options.context ? { context: options.context } : {}),
    driveOptions: () => ({
      ...options.driveOptions,
      stateDir: options.stateDir,
      ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
      onJournal: (journal: Journal, files: RunFiles, plan: MigrationPlan) => {
        const detach = feeds.attach(files, plan, journal);
        return async () => detach();
      },
    }),
    onDriveEnded: (id, result) => {
      driving.delete(id);
      feeds.feed(id).refreshDriver();
      log(result instanceof FerryError ? `run ${id}: ${result.oneLine()}` : `run ${id}: ${result.state.status}${result.error ? ` (${result.error.oneLine()})` : ''}`);
    },
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => sendError(response, toFerryError(error)));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    if (!hostAllowed(request.headers.host, host, port)) return sendJson(response, 421, { error: `this dashboard answers as ${host}:${port} only` });
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const path = url.pathname;

    if (path === '/' && request.method === 'GET' && url.searchParams.has('token')) {
      // The printed URL: the token goes into an HttpOnly cookie and out of the address bar and history.
      if (!book.identify(url.searchParams.get('token') ?? undefined)) return sendJson(response, 401, { error: 'this token is not one of this dashboard\'s: open the URL `ferry ui` printed' });
      response.writeHead(303, { location: '/', 'set-cookie': sessionCookie(port, url.searchParams.get('token')!), 'cache-control': 'no-store' });
      return void response.end();
    }
    if (!path.startsWith('/api/') && path !== '/metrics') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: 'static files are read with GET' });
      return serveStatic(response, path);
    }

    const identity = book.identify(presentedToken(request, port));
    if (!identity) return sendJson(response, 401, { error: 'no valid token: open the URL `ferry ui` printed (its token), or send Authorization: Bearer <token>' });

    if (path === '/metrics') {
      if (!options.metrics) return sendJson(response, 404, { error: 'this dashboard serves no metrics' });
      const text = await options.metrics.registry.metrics();
      response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      return void response.end(text);
    }

    const route = matchRoute(path);
    if (!route) return sendJson(response, 404, { error: `no such endpoint: ${path}` });
    if (route.mutating) {
      if (request.method !== 'POST') return sendJson(response, 405, { error: `${path} changes a run: use POST` }, { allow: 'POST' });
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== `http://${request.headers.host}`) return sendJson(response, 403, { error: `requests from ${origin} may not change runs` });
      if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) return sendJson(response, 415, { error: 'send a JSON body (content-type: application/json)' });
      const body = await readJson(request);
      const result = await act(route.action, route.run!, body, identity);
      log(`${result.requested} ${result.run}${result.slice ? ` ${result.slice}` : ''}${result.by ? ` by ${result.by}` : ''}`);
      return sendJson(response, 202, result);
    }
    if (request.method !== 'GET') return sendJson(response, 405, { error: `${path} is read with GET` }, { allow: 'GET' });
    switch (route.action) {
      case 'session': return sendJson(response, 200, { identity: identity.kind === 'named' ? identity.name : 'the credentials of whoever started this dashboard', kind: identity.kind, stateDir: options.stateDir, metrics: Boolean(options.metrics) });
      case 'runs': return sendJson(response, 200, summaries.list());
      case 'run': return sendJson(response, 200, feeds.feed(route.run!).view());
      case 'events': return stream(request, response, route.run!);
    }
  }

  async function act(action: string, run: string, body: Record<string, unknown>, identity: TokenIdentity): Promise<ActionResult> {
    switch (action) {
      case 'approve': {
        if (typeof body.slice !== 'string' || !body.slice) throw new FerryError('usage', 'approve needs the slice: {"slice": "<name>"}');
        return approve(run, body.slice, identity, actions);
      }
      case 'pause':
      case 'abort':
        return requestStop(run, action, identity, actions);
      case 'resume':
        return driven(await drive(run, 'resume', actions));
      default: {
        const waves = Array.isArray(body.waves) ? body.waves.map(Number) : undefined;
        const slices = Array.isArray(body.slices) ? body.slices.map(String) : undefined;
        return driven(await drive(run, 'rollback', actions, waves || slices ? { ...(waves ? { waves } : {}), ...(slices ? { slices } : {}) } : undefined));
      }
    }
  }

  function driven(result: ActionResult): ActionResult {
    driving.add(result.run);
    return result;
  }

  function stream(request: IncomingMessage, response: ServerResponse, run: string): void {
    const feed = feeds.feed(run);
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    const { view, stop } = feed.listen((update) => response.write(`event: update\ndata: ${JSON.stringify(update)}\n\n`));
    response.write(`event: snapshot\ndata: ${JSON.stringify(view)}\n\n`);
    streams.add(response);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    const end = () => {
      clearInterval(keepalive);
      stop();
      streams.delete(response);
    };
    request.on('close', end);
    response.on('close', end);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new FerryError('ui', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { fix: error.code === 'EADDRINUSE' ? 'choose another --port, or 0 for any free one' : 'check --host and --port' })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : port;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `${origin}/?token=${token}`, origin, host, port, token,
    driving: () => [...driving],
    attachRun: (journal, files, plan) => feeds.attach(files, plan, journal),
    async close() {
      feeds.close();
      for (const response of streams) response.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Route {
  action: 'session' | 'runs' | 'run' | 'events' | 'approve' | 'pause' | 'abort' | 'resume' | 'rollback';
  run?: string;
  mutating: boolean;
}

const MUTATIONS = new Set(['approve', 'pause', 'abort', 'resume', 'rollback']);

function matchRoute(path: string): Route | undefined {
  if (path === '/api/session') return { action: 'session', mutating: false };
  if (path === '/api/runs') return { action: 'runs', mutating: false };
  const match = /^\/api\/runs\/([A-Za-z0-9._-]+)(?:\/([a-z]+))?$/.exec(path);
  if (!match) return undefined;
  const [, run, verb] = match;
  if (!verb) return { action: 'run', run: run!, mutating: false };
  if (verb === 'events') return { action: 'events', run: run!, mutating: false };
  if (MUTATIONS.has(verb)) return { action: verb as Route['action'], run: run!, mutating: true };
  return undefined;
}

/** The Host header must name this server, so a page on a rebinding DNS name cannot reach it. */
function hostAllowed(header: string | undefined, host: string, port: number): boolean {
  if (host === '0.0.0.0' || host === '::') return true;
  if (!header) return false;
  const names = new Set([host, '127.0.0.1', 'localhost', '[::1]', host.includes(':') ? `[${host}]` : host]);
  return [...names].some((name) => header === `${name}:${port}`);
}

async function serveStatic(response: ServerResponse, path: string): Promise<void> {
  const file = VENDOR[path] ?? (path === '/' ? join(UI_DIR, 'index.html') : path.startsWith('/ui/') ? join(UI_DIR, normalize(path.slice('/ui/'.length)).replace(/^(\.\.(\/|\\|$))+/, '')) : undefined);
  if (!file || !file.startsWith(UI_DIR) && !Object.values(VENDOR).includes(file)) return sendJson(response, 404, { error: `no such file: ${path}` });
  try {
    const content = await readFile(file);
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    response.end(content);
  } catch {
    sendJson(response, 404, { error: `no such file: ${path}` });
  }
}

const MAX_BODY = 64 * 1024;

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) {
    text += chunk;
    if (text.length > MAX_BODY) throw new FerryError('usage', 'request body too large');
  }
  if (!text.trim()) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new FerryError('usage', 'the request body is not JSON');
  }
}

const STATUS: Record<string, number> = { usage: 400, approval: 403, identity: 403, run: 404, 'run-locked': 409 };

function sendError(response: ServerResponse, error: FerryError): void {
  if (response.headersSent) return void response.end();
  sendJson(response, STATUS[error.code] ?? 500, { error: error.oneLine(), code: error.code });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}
