import type { Command } from 'commander';
import { parseOutputFormat, printResult } from '../context.js';
import type { RouterCluster } from '../../traffic/proxy/cluster-primary.js';
import { loadRouterConfig, type RouterConfig } from '../../traffic/proxy/config.js';
import { availableParallelism } from 'node:os';
import { FerryError } from '../../util/errors.js';
import { resolveAdminToken } from '../../traffic/proxy/token.js';

export function register(program: Command): void {
  program
    .command('router')
    .description('run the embedded traffic router (weighted, sticky, mirroring reverse proxy) until interrupted')
    .requiredOption('-c, --config <file>', 'router.yaml: listeners, backends and routes')
    .option('-w, --workers <n>', 'worker processes serving requests (default: the machine\'s cores; 1 = one process)')
    .option('-o, --output <format>', 'table or json (the startup summary)', 'table')
    .action(async (options: { config: string; workers?: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const workers = options.workers === undefined ? availableParallelism() : Number(options.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new FerryError('usage', `--workers must be a whole number from 1 to 256, got ${JSON.stringify(options.workers)}`, { location: { field: '--workers' }, fix: 'e.g. --workers 4, or leave it out for one per core' });
      const config = loadRouterConfig(options.config);
      const adminToken = resolveAdminToken(config);
      // One process keeps the library router as is; more run it in node:cluster workers behind one admin API.
      // Each loads only what it runs: a primary serves no requests, so it never loads the proxy's modules (faster worker start).
      const router = workers === 1 ? await startInOneProcess(config, adminToken) : await (await import('../../traffic/proxy/cluster-primary.js')).startRouterCluster(config, { workers, ...(adminToken ? { adminToken } : {}) });
      const routes = await router.control.routes();
      const certificate = await router.control.certificate();
      printResult(format, { url: router.url, ...(router.tlsUrl ? { tlsUrl: router.tlsUrl, certificate: certificate ?? null } : {}), adminUrl: router.adminUrl, adminWritable: adminToken !== undefined, workers, routes }, () => ({
        headers: ['ROUTE', 'HOST', 'PATH', 'SOURCE', 'TARGET', 'WEIGHT', 'STICKY', 'MIRROR'],
        rows: routes.map((route) => [
          route.name,
          route.match.host ?? '*',
          route.match.pathPrefix,
          route.source,
          route.target,
          `${route.weights.target}%`,
          route.stickiness.mode === 'none' ? 'no' : `${route.stickiness.mode}:${route.stickiness.name}`,
          route.mirror.enabled ? `${route.mirror.percent}% → ${route.shadow}` : 'off',
        ]),
      }));
      const tls = router.tlsUrl ? `, TLS (h2, http/1.1) on ${router.tlsUrl}${certificate ? ` with ${certificate.subject} from ${certificate.source}, expires ${certificate.notAfter}` : ' waiting for a certificate (PUT /tls)'}` : '';
      process.stderr.write(`router listening on ${router.url} (HTTP/1.1, h2c)${tls}, admin API on ${router.adminUrl}${adminToken ? '' : ' (read-only: no token set)'}, ${workers === 1 ? 'one process' : `${workers} worker processes`}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await router.close();
    });
}

/** The library router in this process, driven through the same control as a cluster's. */
async function startInOneProcess(config: RouterConfig, adminToken: string | undefined): Promise<RouterCluster> {
  const [{ startRouter }, { localControl }] = await Promise.all([import('../../traffic/proxy/server.js'), import('../../traffic/proxy/control.js')]);
  const router = await startRouter(config, { adminToken });
  return { url: router.url, tlsUrl: router.tlsUrl, adminUrl: router.adminUrl!, control: localControl(router), close: () => router.close() };
}
