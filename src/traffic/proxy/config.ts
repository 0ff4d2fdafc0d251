import { readFileSync } from 'node:fs';
import { parseDocument, LineCounter } from 'yaml';
import { z } from 'zod';
import { FerryError } from '../../util/errors.js';

/**
 * `router.yaml`: listeners, named backends and routes over them. The schema is the single
 * source of the types, the validation messages and (through z.toJSONSchema) editor support.
 */
const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)');

const percent = z.number().min(0).max(100);

export const stickinessSchema = z
  .object({
    /** cookie: the router sets a random user id cookie when absent; header: a header carries the user id. */
    mode: z.enum(['none', 'cookie', 'header']).default('cookie'),
    name: z.string().min(1).default('ferry_user'),
    /** Cookie lifetime in seconds. */
    maxAgeSeconds: z.number().int().positive().default(30 * 24 * 3600),
  })
  .strict();

export const compareSchema = z
  .object({
    /** Response headers compared between primary and shadow (case-insensitive names). */
    headers: z.array(z.string().min(1)).default(['content-type']),
    /** Dotted JSON paths ignored when bodies are JSON; `*` matches any key or index: `meta.at`, `items.*.updatedAt`. */
    ignorePaths: z.array(z.string().min(1)).default([]),
    /** Bodies above this size are compared by length and hash only. */
    maxBodyBytes: z.number().int().positive().default(1024 * 1024),
    /** Differing pairs kept (reservoir sample over the whole run). */
    sampleSize: z.number().int().min(0).max(1000).default(20),
  })
  .strict();

export const mirrorSchema = z
  .object({
    enabled: z.boolean().default(false),
    percent: percent.default(10),
    /** Mirror POST/PATCH/... too; off because a shadow write may change the target's data. */
    allowNonIdempotent: z.boolean().default(false),
    compare: compareSchema.default(() => compareSchema.parse({})),
  })
  .strict();

export const routeSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/, 'lower-case letters, digits, -, _ and .'),
    match: z
      .object({
        /** Host header without port; omitted matches any host. `*.example.com` matches one label. */
        host: z.string().min(1).optional(),
        pathPrefix: z.string().startsWith('/').default('/'),
      })
      .strict()
      .default({ pathPrefix: '/' }),
    source: z.string().min(1),
    target: z.string().min(1),
    /** Backend receiving mirrored requests; defaults to the target. */
    shadow: z.string().min(1).optional(),
    /** Percentage of users (sticky) or requests served by the target. */
    weight: percent.default(0),
    stickiness: stickinessSchema.default(() => stickinessSchema.parse({})),
    mirror: mirrorSchema.default(() => mirrorSchema.parse({})),
  })
  .strict();

export const backendSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** Keep-alive connections per backend. */
    connections: z.number().int().positive().default(64),
    /**
     * HTTP/2 clients' requests reach this backend over HTTP/2 (h2c for http://, ALPN h2 for
     * https://). false for a backend that speaks only HTTP/1.1 (e.g. an ingress controller's
     * plain port): they then go over HTTP/1.1. gRPC always goes over HTTP/2. Default true
     * (optional rather than defaulted, so configs built in code need not name it).
     */
    http2: z.boolean().optional(),
  })
  .strict();

const k8sRef = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * TLS termination on a second listener (HTTP/2 and HTTP/1.1 by ALPN). The certificate comes
 * from PEM files, from a kubernetes.io/tls Secret read through the kubeconfig, or, with
 * neither, through the admin API (`PUT /tls`, what the router traffic provider does).
 */
export const tlsSchema = z
  .object({
    listen: listen.default('127.0.0.1:8443'),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** NAMESPACE/NAME of a kubernetes.io/tls Secret (keys tls.crt, tls.key). */
    secret: z.string().regex(k8sRef, 'expected NAMESPACE/NAME of a kubernetes.io/tls Secret').optional(),
    /** kubeconfig context to read the Secret from (default: the current context). */
    context: z.string().min(1).optional(),
    kubeconfig: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [tls.certFile === undefined ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together' });
    }
    if (tls.secret !== undefined && tls.certFile !== undefined) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'give the certificate as files or as a Secret, not both' });
    if (tls.secret === undefined && (tls.context !== undefined || tls.kubeconfig !== undefined)) ctx.addIssue({ code: 'custom', path: [tls.context !== undefined ? 'context' : 'kubeconfig'], message: 'context and kubeconfig say where to read tls.secret from; set tls.secret' });
  });

export const routerConfigSchema = z
  .object({
    listen: listen.default('127.0.0.1:8080'),
    admin: z
      .object({
        listen: listen.default('127.0.0.1:9901'),
        /** Environment variable holding the bearer token; without a token the admin API is read-only. */
        tokenEnv: z.string().default('FERRY_ROUTER_TOKEN'),
        tokenFile: z.string().optional(),
      })
      .strict()
      .default({ listen: '127.0.0.1:9901', tokenEnv: 'FERRY_ROUTER_TOKEN' }),
    /** Upper bound for a backend's response headers and gaps between body chunks. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Request bodies are buffered (so a failed connect can be retried and mirrored); larger ones get 413. */
    maxRequestBodyBytes: z.number().int().positive().default(10 * 1024 * 1024),
    /** Optional TLS listener; the plaintext `listen` keeps serving HTTP/1.1 and h2c. */
    tls: tlsSchema.optional(),
    backends: z.record(z.string().regex(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/), backendSchema),
    routes: z.array(routeSchema).min(1),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    config.routes.forEach((route, i) => {
      if (names.has(route.name)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `duplicate route name "${route.name}"` });
      names.add(route.name);
      for (const role of ['source', 'target', 'shadow'] as const) {
        const backend = route[role];
        if (backend !== undefined && !(backend in config.backends)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, role], message: `unknown backend "${backend}" (known: ${Object.keys(config.backends).join(', ')})` });
        }
      }
    });
  });

export type RouterConfig = z.infer<typeof routerConfigSchema>;
export type RouterConfigInput = z.input<typeof routerConfigSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type MirrorConfig = z.infer<typeof mirrorSchema>;
export type CompareConfig = z.infer<typeof compareSchema>;
export type StickinessConfig = z.infer<typeof stickinessSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;

/** Validates a config object; the first problem becomes a FerryError naming the field. */
export function parseRouterConfig(value: unknown, file?: string, lineOf?: (path: PropertyKey[]) => number | undefined): RouterConfig {
  const result = routerConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('').replace(/^\./, '');
  throw new FerryError('config', issue.message, {
    location: { file, line: lineOf?.(issue.path), field: field || undefined },
    fix: 'correct router.yaml; see docs/architecture.md (Traffic) for the fields',
  });
}

/** Reads and validates router.yaml, reporting file:line of the offending field. */
export function loadRouterConfig(file: string): RouterConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new FerryError('config', `cannot read router config: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      location: { file },
      fix: 'pass an existing file to --config',
      cause: error,
    });
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    const position = lineCounter.linePos(first.pos[0]);
    throw new FerryError('config', first.message.split('\n')[0] ?? 'invalid YAML', {
      location: { file, line: position.line, column: position.col },
      fix: 'fix the YAML syntax',
    });
  }
  const lineOf = (path: PropertyKey[]): number | undefined => {
    for (let depth = path.length; depth > 0; depth--) {
      const node = document.getIn(path.slice(0, depth) as Array<string | number>, true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return parseRouterConfig(document.toJS(), file, lineOf);
}

export function splitListen(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
}
