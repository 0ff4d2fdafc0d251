import type { Command } from 'commander';
import { summarizeInventory, type InventoryReport } from '../../inventory/index.js';
import { parseOutputFormat, printResult } from '../context.js';
import { addSourceOptions, inventoryFromFlags } from '../sources.js';
import { color } from '../../util/color.js';
import { renderTable } from '../../util/output.js';

export function register(program: Command): void {
  addSourceOptions(program.command('inventory').description('list what runs in a cluster (or exported YAML) and what it depends on'))
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(async (options, command: Command) => {
      const format = parseOutputFormat(options.output, ['table', 'json', 'yaml'] as const);
      const report = summarizeInventory(await inventoryFromFlags(command, options));
      printResult(format, report, () => renderReport(report));
    });
}

function renderReport(report: InventoryReport): string {
  const c = color();
  const source = report.source.kind === 'manifests' ? report.source.path : `${report.source.context} (${report.source.server})`;
  const out = [`${c.bold('Inventory of')} ${source}: ${report.totals.objects} objects in ${report.totals.namespaces} namespaces, ${report.totals.skipped} skipped\n`];
  for (const ns of report.namespaces) {
    out.push(`\n${c.bold(`namespace ${ns.namespace}`)}\n`);
    out.push(renderTable(['KIND', 'COUNT'], Object.entries(ns.objects)));
    if (ns.images.length > 0) out.push(`images: ${ns.images.join(', ')}\n`);
    if (ns.storage.length > 0) out.push(renderTable(['CLAIM', 'CLASS', 'SIZE', 'ACCESS'], ns.storage.map((s) => [s.claim, s.storageClass, s.size, s.accessModes.join(',')])));
    if (ns.exposure.length > 0) out.push(renderTable(['EXPOSED', 'TYPE', 'DETAIL'], ns.exposure.map((e) => [e.object, e.type, e.detail])));
    if (ns.externalDependencies.length > 0) {
      out.push(renderTable(['FROM', 'DEPENDS ON', 'KIND', 'WHERE'], ns.externalDependencies.map((d) => [d.from, d.target, d.kind, d.detail])));
    }
  }
  if (report.cluster.storageClasses.length > 0) {
    out.push(`\n${c.bold('storage classes')}\n`);
    out.push(renderTable(['NAME', 'PROVISIONER', 'DEFAULT'], report.cluster.storageClasses.map((s) => [s.name, s.provisioner, s.default ? 'yes' : ''])));
  }
  if (Object.keys(report.skipped).length > 0) out.push(`\nskipped: ${Object.entries(report.skipped).map(([reason, n]) => `${n} ${reason}`).join(', ')}\n`);
  return out.join('');
}
