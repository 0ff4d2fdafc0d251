/**
 * A whole application across two lab clusters (issue #16): the eleven-service call-graph app
 * in Online Boutique's shape, pods as processes, service networking on.
 *
 * 1. The hop a bridge adds: the same leaf Service called by name through a cluster's service
 *    proxy, directly (its pods in the same cluster) and through an endpoints bridge on the
 *    other cluster (proxy → the serving cluster's east-west gateway → its pods), sequential
 *    keep-alive requests, one after the other in the same run.
 * 2. The whole migration with short step windows under steady load (`ferry run` as its own
 *    process), against the floor its plan prescribes: per wave, the longest slice's ramp
 *    steps × step window plus its soak (what the run must wait, whatever Ferry does).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ProxyAgent, request } from 'undici';
import { EndpointsBridge } from '../src/bridge/endpoints.js';
import { bridgeClusters } from '../src/bridge/factory.js';
import { findGateway } from '../src/bridge/gateway.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { NAMESPACE, startAppStage } from '../test/integration/run/app-stage.js';
import { report, section } from './report.js';

const CALLS = 1_000;
const LEAF = 'productcatalogservice';

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))] ?? Number.NaN;
}

async function timeCalls(proxyUrl: string, url: string): Promise<number[]> {
  const agent = new ProxyAgent({ uri: proxyUrl });
  const times: number[] = [];
  try {
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now();
      const response = await request(url, { dispatcher: agent });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
      times.push(performance.now() - started);
    }
  } finally {
    await agent.close();
  }
  return times;
}

const stage = await startAppStage();
try {
  const [source, target] = stage.lab.clusters;
  const clients = {
    source: new KubeClient(loadKubeConfig({ kubeconfig: stage.lab.kubeconfigFile, context: 'source' })),
    target: new KubeClient(loadKubeConfig({ kubeconfig: stage.lab.kubeconfigFile, context: 'target' })),
  };
  const clusters = bridgeClusters(clients);
  const bridge = new EndpointsBridge(clusters);
  await clients.target.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } });
  const record = await bridge.ensure({
    namespace: NAMESPACE, service: LEAF, ports: [{ name: 'http', port: 3550, protocol: 'TCP' }],
    callerCluster: 'target', servingCluster: 'source', gateway: await findGateway(clusters.source, { side: 'source' }),
  });
  const url = `http://${LEAF}.${NAMESPACE}.svc.cluster.local:3550/`;
  // Warm both paths (JIT, keep-alive connections) before measuring.
  await timeCalls(source!.network!.proxyUrl, url);
  await timeCalls(target!.network!.proxyUrl, url);
  const direct = await timeCalls(source!.network!.proxyUrl, url);
  const bridged = await timeCalls(target!.network!.proxyUrl, url);
  await bridge.remove(record);
  await clients.target.request({ method: 'DELETE', path: `/api/v1/namespaces/${NAMESPACE}` });
  for (const client of Object.values(clients)) client.close();

  section(`a bridge hop: ${CALLS} sequential calls to ${LEAF} by name through the service proxy`);
  report({ name: 'direct (same cluster) p50', value: percentile(direct, 50), unit: 'ms' });
  report({ name: 'through a bridge (east-west gateway) p50', value: percentile(bridged, 50), unit: 'ms', compare: { kind: 'reference', label: 'direct', value: percentile(direct, 50), lowerIsBetter: true } });
  report({ name: 'direct (same cluster) p99', value: percentile(direct, 99), unit: 'ms' });
  report({ name: 'through a bridge (east-west gateway) p99', value: percentile(bridged, 99), unit: 'ms', compare: { kind: 'reference', label: 'direct', value: percentile(direct, 99), lowerIsBetter: true } });
  report({ name: 'p99 added by the bridge hop', value: percentile(bridged, 99) - percentile(direct, 99), unit: 'ms' });

  const stepWindowS = 1;
  const soakS = 1;
  const { file, plan } = await stage.writePlan('bench-app', (edited) => {
    edited.spec.defaults.traffic.stepWindow = `${stepWindowS}s`;
    edited.spec.defaults.decommission.after = `${soakS}s`;
  });
  const floor = (plan.spec.waves as Array<{ slices: Array<{ traffic?: { provider?: unknown } }> }>).reduce((total, wave) => {
    const longest = Math.max(...wave.slices.map((slice) => (typeof slice.traffic?.provider === 'object' ? plan.spec.defaults.traffic.steps.length * stepWindowS : 0) + soakS));
    return total + longest;
  }, 0);
  const users = stage.load(8);
  const stateDir = mkdtempSync(join(tmpdir(), 'ferry-bench-app-'));
  const started = performance.now();
  const run = stage.ferry(['run', file, '--state-dir', stateDir, '-o', 'json']);
  const code = await run.closed;
  const wall = (performance.now() - started) / 1000;
  const answers = await users.stop();
  if (code !== 0) throw new Error(`ferry run failed: ${run.stderr.slice(-2000)}`);
  const failed = answers.filter((answer) => answer.status !== 200).length;
  const slices = plan.spec.waves.flatMap((wave: { slices: unknown[] }) => wave.slices).length;

  section(`the whole migration: ${slices} slices in ${plan.spec.waves.length} waves, step window ${stepWindowS} s, soak ${soakS} s, 8 users/s`);
  report({ name: 'ferry run, wall time', value: wall, unit: 's', compare: { kind: 'reference', label: 'the plan\'s own waits', value: floor, lowerIsBetter: true } });
  report({ name: 'user requests during the run', value: answers.length, unit: 'requests' });
  report({ name: 'failed user requests', value: failed, unit: 'requests', compare: { kind: 'target', label: 'none', value: 0, lowerIsBetter: true } });
} finally {
  await stage.stop();
}
