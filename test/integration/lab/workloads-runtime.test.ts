import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPodRuntime, toPodStatus } from '../../../src/lab/runtime.js';
import { alive, echoContainer, pod, waitFor } from './workloads-helpers.js';

// Probe periods and back-off run at a tenth of real time so the file stays fast.
const runtime = createPodRuntime({ cluster: 'source', timeScale: 0.1, restartBackoff: { initialMs: 1000, maxMs: 10_000 } });
after(() => runtime.stopAll());

async function getJson(port: number, path = '/'): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('an echo pod passes its readiness probe for real and answers on its mapped port', async () => {
  const running = await runtime.start(pod({ containers: [echoContainer()] }, { name: 'echo-a' }));
  assert.equal(running.host, '127.0.0.1');
  const port = running.hostPort('http');
  assert.ok(port && port !== 8080, 'containerPort 8080 is mapped to a free host port');
  assert.equal(running.hostPort(8080), port);
  await waitFor('the pod to become ready', () => running.ready);
  const { status, body } = await getJson(port, '/cart?size=2000');
  assert.equal(status, 200);
  assert.equal(body.pod, 'echo-a');
  assert.equal(body.cluster, 'source');
  assert.equal(body.version, 'v1');
  assert.equal(body.path, '/cart');
  const sized = await fetch(`http://127.0.0.1:${port}/?size=2000`);
  assert.equal((await sized.text()).length, 2000);
  const kube = toPodStatus(running.status()) as { phase: string; conditions: Array<{ type: string; status: string }> };
  assert.equal(kube.phase, 'Running');
  assert.equal(kube.conditions.find((c) => c.type === 'Ready')?.status, 'True');
});

test('a readiness probe that fails keeps the pod unready while its process runs', async () => {
  const running = await runtime.start(
    pod({ containers: [echoContainer({ readinessProbe: { tcpSocket: { port: 9999 }, periodSeconds: 1 } })] }),
  );
  // 9999 is not a declared port: it gets a host port for the probe, but the echo app does not listen there.
  await waitFor('the process to run', () => running.pid);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(running.ready, false);
  assert.equal(running.status().phase, 'Running');
  assert.equal(running.status().containers[0]?.state, 'running');
});

test('a killed pod is restarted under restartPolicy Always, and not under Never', async () => {
  const always = await runtime.start(pod({ containers: [echoContainer()] }));
  const never = await runtime.start(pod({ restartPolicy: 'Never', containers: [echoContainer()] }));
  await waitFor('both pods ready', () => always.ready && never.ready);
  const [firstPid, neverPid] = [always.pid as number, never.pid as number];
  always.kill();
  never.kill();
  await waitFor('a restarted process', () => always.ready && always.pid !== firstPid);
  assert.equal(alive(firstPid), false);
  const status = always.status().containers[0];
  assert.equal(status?.restartCount, 1);
  assert.equal(status?.lastTerminated?.exitCode, 137);
  const finished = await never.done;
  assert.equal(finished.phase, 'Failed');
  assert.equal(finished.containers[0]?.restartCount, 0);
  assert.equal(alive(neverPid), false);
});

test('a failing liveness probe gets the container restarted', async () => {
  const running = await runtime.start(
    pod({ containers: [echoContainer({ livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 20, periodSeconds: 1, failureThreshold: 2 } })] }),
  );
  await waitFor('ready', () => running.ready);
  const firstPid = running.pid as number;
  const restarts = running.status().containers[0]?.restartCount ?? 0;
  await fetch(`http://127.0.0.1:${running.hostPort('http')}/__ferry/faults`, { method: 'POST', body: JSON.stringify({ live: false }) });
  await waitFor('a restart after liveness failures', () => running.status().containers[0]?.restartCount === restarts + 1 && running.ready);
  assert.notEqual(running.pid, firstPid);
  assert.equal(running.status().containers[0]?.lastTerminated?.reason !== undefined, true);
});

test('a lab.ferry.dev/command pod runs its shell command with PORT set', async () => {
  const running = await runtime.start(
    pod(
      {
        containers: [{ name: 'web', image: 'example.com/anything', ports: [{ containerPort: 80 }], readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 } }],
      },
      { annotations: { 'lab.ferry.dev/command': 'exec node -e "require(\'http\').createServer((q,s)=>s.end(\'hi from \'+process.env.PORT)).listen(process.env.PORT,\'127.0.0.1\')"' } },
    ),
  );
  assert.equal(running.status().containers[0]?.kind, 'command');
  await waitFor('ready', () => running.ready);
  const port = running.hostPort(80) as number;
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), `hi from ${port}`);
});

test('an image the lab cannot run gets an echo stand-in that answers gRPC health and HTTP on every port', async () => {
  const running = await runtime.start(
    pod(
      {
        initContainers: [{ name: 'wait', image: 'busybox:1.38.0', command: ['/bin/sh', '-c', 'exit 1'] }],
        containers: [
          {
            name: 'server',
            image: 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/currencyservice:v0.10.6',
            ports: [{ name: 'grpc', containerPort: 7000 }],
            env: [{ name: 'PORT', value: '7000' }],
            readinessProbe: { grpc: { port: 7000 }, periodSeconds: 1 },
            livenessProbe: { grpc: { port: 7000 }, initialDelaySeconds: 5, periodSeconds: 1 },
          },
        ],
      },
      { labels: { app: 'currencyservice' } },
    ),
  );
  await waitFor('the stand-in ready', () => running.ready);
  const status = running.status();
  assert.equal(status.initContainers[0]?.kind, 'skipped');
  assert.equal(status.containers[0]?.kind, 'stand-in');
  const { body } = await getJson(running.hostPort('grpc') as number, '/');
  assert.equal(body.service, 'currencyservice');
  assert.equal(body.standIn, true);
});

test('stopAll leaves no process behind', async () => {
  const pods = await Promise.all([1, 2].map(() => runtime.start(pod({ containers: [echoContainer()] }))));
  await waitFor('pods running', () => pods.every((p) => p.pid !== undefined));
  const pids = runtime.list().flatMap((p) => p.status().containers.map((c) => c.pid)).filter((pid): pid is number => pid !== undefined);
  assert.ok(pids.length >= 2);
  await runtime.stopAll();
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
  const ps = execFileSync('ps', ['-eo', 'pid,ppid,args'], { encoding: 'utf8' });
  const ours = ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, ...args]) => Number(ppid) === process.pid && args.join(' ').includes('workloads/apps/'));
  assert.deepEqual(ours, []);
  assert.deepEqual(runtime.list(), []);
});
