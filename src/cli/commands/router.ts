import type { Command } from 'commander';
import { parseOutputFormat, printResult } from '../context.js';
import { loadRouterConfig } from '../../traffic/proxy/config.js';
import { startRouter } from '../../traffic/proxy/server.js';
import { resolveAdminToken } from '../../traffic/proxy/token.js';

export function register(program: Command): void {
  program
    .command('router')
    .description('run the embedded traffic router (weighted, sticky, mirroring reverse proxy) until interrupted')
    .requiredOption('-c, --config <file>', 'router.yaml: listeners, backends and routes')
    .option('-o, --output <format>', 'table or json (the startup summary)', 'table')
    .action(async (options: { config: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const config = loadRouterConfig(options.config);
      const adminToken = resolveAdminToken(config);
      const router = await startRouter(config, { adminToken });
      const routes = router.routes();
      const certificate = router.certificate();
      printResult(format, { url: router.url, ...(router.tlsUrl ? { tlsUrl: router.tlsUrl, certificate: certificate ?? null } : {}), adminUrl: router.adminUrl, adminWritable: adminToken !== undefined, routes }, () => ({
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
      process.stderr.write(`router listening on ${router.url} (HTTP/1.1, h2c)${tls}, admin API on ${router.adminUrl}${adminToken ? '' : ' (read-only: no token set)'}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await router.close();
    });
}
