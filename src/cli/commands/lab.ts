import type { Command } from 'commander';
import { parseOutputFormat, printResult } from '../context.js';
import { DEFAULT_LAB_DIR, labDown, labFault, labStatus, labUp } from '../../lab/control.js';
import { labStatusReport, labStatusRows } from '../../lab/lab-status.js';
import { FerryError } from '../../util/errors.js';

export function register(program: Command): void {
  const lab = program.command('lab').description('local Kubernetes clusters to rehearse migrations on');

  lab
    .command('up')
    .description('start local clusters in the background and write a kubeconfig with one context each')
    .option('--clusters <names>', 'comma-separated cluster names', 'source,target')
    .option('--dir <dir>', 'where the kubeconfig, pid and logs go', DEFAULT_LAB_DIR)
    .option('--simulated-pods', 'report pods ready without running them as processes')
    .option('--no-mesh', 'do not serve Istio\'s VirtualService/DestinationRule/ServiceEntry types (install Istio\'s own CRDs instead)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: { clusters: string; dir: string; simulatedPods?: boolean; mesh: boolean; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      if (process.stderr.isTTY) process.stderr.write('starting lab clusters…\n');
      const state = await labUp({ dir: options.dir, clusters: options.clusters.split(',').map((c) => c.trim()).filter(Boolean), ...(options.simulatedPods ? { pods: 'simulated' as const } : {}), mesh: options.mesh });
      printResult(format, state, () => [
        `lab is up (pid ${state.pid}, pods: ${state.pods})`,
        ...state.clusters.map((c) => `  ${c.name.padEnd(10)} ${c.url}  context ${c.context}`),
        '',
        `  export KUBECONFIG=${state.kubeconfig}`,
        `  kubectl --context ${state.clusters[0]?.context ?? 'source'} get nodes`,
        `  ferry lab down --dir ${options.dir}`,
        '',
      ].join('\n'));
    });

  lab
    .command('down')
    .description('stop the lab started by `ferry lab up` and every process it runs')
    .option('--dir <dir>', 'the lab directory', DEFAULT_LAB_DIR)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: { dir: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const result = await labDown({ dir: options.dir });
      printResult(format, result, () => (result.stopped ? `lab stopped (pid ${result.pid})\n` : 'no lab was running\n'));
    });

  lab
    .command('status')
    .description("show where the running lab's clusters answer: API, ingress, east-west gateway, LoadBalancer and NodePort Services")
    .option('--dir <dir>', 'the lab directory', DEFAULT_LAB_DIR)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: { dir: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const state = labStatus({ dir: options.dir });
      if (!state) return printResult(format, { running: false }, () => 'no lab is running\n');
      const report = await labStatusReport(state);
      printResult(format, report, () => report.running
        ? { headers: ['CLUSTER', 'WHAT', 'NAME', 'ADDRESS'], rows: labStatusRows(report) }
        : `the lab's process (pid ${report.pid}) is not running; run \`ferry lab down --dir ${options.dir}\` to clean up\n`);
    });

  lab
    .command('fault')
    .description("make a lab cluster's API fail or slow down")
    .requiredOption('--cluster <name>', 'which cluster')
    .option('--error-rate <fraction>', 'fraction of requests that fail, 0..1')
    .option('--error-code <status>', 'HTTP status of failed requests', '503')
    .option('--latency <ms>', 'added latency per request, in milliseconds')
    .option('--verbs <list>', 'only these verbs (get,list,watch,create,update,patch,delete)')
    .option('--resources <list>', 'only these resources (e.g. deployments,pods)')
    .option('--clear', 'remove all faults')
    .option('--dir <dir>', 'the lab directory', DEFAULT_LAB_DIR)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: { cluster: string; errorRate?: string; errorCode: string; latency?: string; verbs?: string; resources?: string; clear?: boolean; dir: string; output: string }) => {
      const format = parseOutputFormat(options.output, ['table', 'json'] as const);
      const number = (value: string | undefined, flag: string) => {
        if (value === undefined) return undefined;
        const parsed = Number(value);
        if (!Number.isFinite(parsed)) throw new FerryError('usage', `${flag} must be a number`, { location: { field: flag } });
        return parsed;
      };
      const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter(Boolean);
      const faults = options.clear ? undefined : {
        ...(options.errorRate !== undefined ? { errorRate: number(options.errorRate, '--error-rate'), errorCode: number(options.errorCode, '--error-code') } : {}),
        ...(options.latency !== undefined ? { latencyMs: number(options.latency, '--latency') } : {}),
        ...(options.verbs ? { verbs: list(options.verbs) } : {}),
        ...(options.resources ? { resources: list(options.resources) } : {}),
      };
      const result = await labFault({ dir: options.dir, cluster: options.cluster, faults: faults as Parameters<typeof labFault>[0]['faults'] });
      printResult(format, { cluster: options.cluster, faults: result }, () => `${options.cluster}: ${Object.keys(result).length ? JSON.stringify(result) : 'no faults'}\n`);
    });
}
