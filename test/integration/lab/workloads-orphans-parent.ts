// Child of workloads-orphans.test.ts: runs two pods, prints their pids, waits to be killed.
import { createPodRuntime } from '../../../src/lab/runtime.js';
import { echoContainer, pod, waitFor } from './workloads-helpers.js';

async function main(): Promise<void> {
  const runtime = createPodRuntime({ cluster: 'orphans', timeScale: 0.1 });
  const pods = await Promise.all([1, 2].map(() => runtime.start(pod({ containers: [echoContainer()] }))));
  await waitFor('pods running', () => pods.every((p) => p.pid !== undefined));
  console.log(`pids ${pods.map((p) => p.pid).join(',')}`);
  setInterval(() => {}, 1000);
}
void main();
