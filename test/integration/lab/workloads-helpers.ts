import type { KubeObject } from '../../../src/kube/object.js';

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let counter = 0;

/** A Pod as the API server would hand it to the runtime. */
export function pod(spec: Record<string, unknown>, metadata: Partial<KubeObject['metadata']> = {}): KubeObject {
  counter++;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${process.pid}-${counter}`, namespace: 'default', uid: `uid-${process.pid}-${counter}`, labels: { app: 'echo' }, ...metadata },
    spec,
  };
}

export const echoContainer = (extra: Record<string, unknown> = {}) => ({
  name: 'main',
  image: 'ferry.dev/echo:v1',
  ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 },
  ...extra,
});
