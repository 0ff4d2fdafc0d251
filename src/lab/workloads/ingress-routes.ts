import type { KubeObject } from '../../kube/object.js';

export interface IngressBackendRef {
  namespace: string;
  service: string;
  /** Service port number or name. */
  port: number | string;
}

interface IngressPath {
  path?: string;
  pathType?: 'Prefix' | 'Exact' | 'ImplementationSpecific';
  backend?: { service?: { name: string; port?: { number?: number; name?: string } } };
}

interface IngressSpec {
  defaultBackend?: IngressPath['backend'];
  rules?: Array<{ host?: string; http?: { paths?: IngressPath[] } }>;
}

/**
 * Which Service a request goes to under a set of networking.k8s.io/v1 Ingresses, as the
 * Ingress spec defines matching: exact hosts before wildcards (`*.example.com` matches one
 * label), Exact before Prefix, longer prefixes first, Prefix matching whole path elements
 * (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types).
 * ImplementationSpecific is treated as Prefix. Pure: no I/O.
 */
export function matchIngress(ingresses: KubeObject[], requestHost: string, requestPath: string): IngressBackendRef | undefined {
  const host = requestHost.replace(/:\d+$/, '').toLowerCase();
  const path = requestPath.split('?')[0] || '/';
  let best: { score: number[]; ref: IngressBackendRef } | undefined;
  const consider = (score: number[], ref: IngressBackendRef | undefined) => {
    if (!ref) return;
    if (!best || compare(score, best.score) > 0) best = { score, ref };
  };
  for (const ingress of ingresses) {
    const namespace = ingress.metadata.namespace ?? 'default';
    const spec = (ingress.spec ?? {}) as IngressSpec;
    for (const rule of spec.rules ?? []) {
      const hostScore = hostMatch(rule.host, host);
      if (hostScore === 0) continue;
      for (const candidate of rule.http?.paths ?? []) {
        const pathScore = pathMatch(candidate, path);
        if (pathScore === undefined) continue;
        consider([hostScore, ...pathScore], toRef(namespace, candidate.backend));
      }
    }
    if (spec.defaultBackend) consider([0, 0, 0], toRef(namespace, spec.defaultBackend));
  }
  return best?.ref;
}

function toRef(namespace: string, backend: IngressPath['backend']): IngressBackendRef | undefined {
  const service = backend?.service;
  if (!service) return undefined;
  return { namespace, service: service.name, port: service.port?.number ?? service.port?.name ?? 80 };
}

/** 3 exact host, 2 wildcard, 1 rule without host, 0 no match. */
function hostMatch(ruleHost: string | undefined, host: string): number {
  if (!ruleHost) return 1;
  const wanted = ruleHost.toLowerCase();
  if (wanted === host) return 3;
  if (wanted.startsWith('*.')) {
    const suffix = wanted.slice(1);
    const label = host.slice(0, host.length - suffix.length);
    if (host.endsWith(suffix) && label.length > 0 && !label.includes('.')) return 2;
  }
  return 0;
}

/** [2 for Exact or 1 for Prefix, matched length], or undefined when the path does not match. */
function pathMatch(candidate: IngressPath, path: string): number[] | undefined {
  const wanted = candidate.path ?? '/';
  if (candidate.pathType === 'Exact') return wanted === path ? [2, wanted.length] : undefined;
  const prefix = wanted.length > 1 ? wanted.replace(/\/+$/, '') : '/';
  if (prefix === '/') return [1, 1];
  if (path === prefix || path.startsWith(`${prefix}/`)) return [1, prefix.length];
  return undefined;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
