import type { Command } from 'commander';
import { generatePlan } from '../../plan/generate.js';
import { FerryError } from '../../util/errors.js';
import { toJson, toYamlText } from '../../util/output.js';
import { parseOutputFormat } from '../context.js';
import { inventoryFromFlags } from '../sources.js';

export function register(program: Command): void {
  program
    .command('plan')
    .description('write a MigrationPlan: slices in dependency order, wave by wave')
    .option('--from <context>', 'source cluster (kubeconfig context)')
    .option('--manifests <path>', 'exported YAML of the source instead of a live cluster')
    .option('--to <context>', 'target cluster (kubeconfig context)', 'target')
    .option('-n, --namespace <name>', 'namespace for objects in the manifests that name none', 'default')
    .option('--name <name>', 'plan name', 'migration')
    .option('--order <order>', 'consumers-first (default) or providers-first', 'consumers-first')
    .option('--steps <weights>', 'traffic steps in percent, comma-separated', '1,10,50,100')
    .option('--step-window <duration>', 'how long each traffic step is held and judged', '5m')
    .option('--provider <name>', 'traffic provider: router, haproxy, istio, gateway-api, ingress-nginx, powerdns, route53', 'router')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(async (options, command: Command) => {
      const format = parseOutputFormat(options.output, ['yaml', 'json'] as const);
      const order = parseOutputFormat(options.order, ['consumers-first', 'providers-first'] as const, '--order');
      const provider = parseOutputFormat(options.provider, ['router', 'haproxy', 'istio', 'gateway-api', 'ingress-nginx', 'powerdns', 'route53'] as const, '--provider');
      const steps = String(options.steps).split(',').map((step) => Number(step.trim()));
      if (steps.some((step) => !Number.isFinite(step) || step < 0 || step > 100)) {
        throw new FerryError('usage', `--steps "${options.steps}" must be numbers from 0 to 100`, { location: { field: '--steps' }, fix: 'e.g. --steps 1,10,50,100' });
      }
      if (!options.from && !options.manifests) {
        throw new FerryError('usage', 'no source: pass --from CONTEXT (a live cluster) or --manifests PATH', { location: { field: '--from' }, fix: 'e.g. ferry plan --from old --to new' });
      }
      const inventory = await inventoryFromFlags(command, options);
      const plan = generatePlan(inventory.objects, {
        name: options.name,
        source: options.manifests ? { manifests: options.manifests } : { context: options.from },
        target: { context: options.to },
        order,
        steps,
        stepWindow: options.stepWindow,
        provider,
      });
      process.stdout.write(format === 'json' ? toJson(plan) : toYamlText(plan));
    });
}
