import { connect as connectTcp } from 'node:net';
import { connect as connectHttp2 } from 'node:http2';
import { spawn } from 'node:child_process';
import { request } from 'undici';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

export interface ProbeSpec {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: Array<{ name: string; value: string }> };
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command: string[] };
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ProbeTarget {
  host: string;
  /** containerPort number or name → host port. */
  resolvePort(port: number | string): number | undefined;
  env: Record<string, string>;
  /** The container runs the echo stand-in, not its image: exec probes name binaries of that image. */
  standIn: boolean;
  /** The stand-in's first port, probed over HTTP in place of an exec probe. */
  primaryPort: number | undefined;
}

/** Every probe tells the app which kind it is, so an app's readiness fault leaves liveness alone. */
export const PROBE_HEADER = 'x-ferry-probe';

/** One probe attempt, as the kubelet judges it: true means success. */
export async function probeOnce(spec: ProbeSpec, kind: ProbeKind, target: ProbeTarget): Promise<boolean> {
  return (await probeWithOutput(spec, kind, target)).ok;
}

/** One probe attempt and, on failure, the kubelet's probe output (what its Unhealthy Event says). */
export async function probeWithOutput(spec: ProbeSpec, kind: ProbeKind, target: ProbeTarget): Promise<{ ok: boolean; output: string }> {
  const timeoutMs = Math.max(1, spec.timeoutSeconds ?? 1) * 1000;
  let url = '';
  let dial = '';
  try {
    if (spec.httpGet) {
      const port = target.resolvePort(spec.httpGet.port);
      if (port === undefined) return { ok: false, output: `unknown port ${String(spec.httpGet.port)}` };
      url = `${(spec.httpGet.scheme ?? 'HTTP').toLowerCase()}://${target.host}:${port}${spec.httpGet.path ?? '/'}`;
      dial = `${target.host}:${port}`;
      const status = await httpProbe(url, spec.httpGet.httpHeaders ?? [], kind, timeoutMs);
      return status >= 200 && status < 400 ? { ok: true, output: '' } : { ok: false, output: `HTTP probe failed with statuscode: ${status}` };
    }
    if (spec.tcpSocket) {
      const port = target.resolvePort(spec.tcpSocket.port);
      if (port === undefined) return { ok: false, output: `unknown port ${String(spec.tcpSocket.port)}` };
      dial = `${target.host}:${port}`;
      return (await tcpProbe(target.host, port, timeoutMs)) ? { ok: true, output: '' } : { ok: false, output: `dial tcp ${dial}: connect: connection refused` };
    }
    if (spec.grpc) {
      const port = target.resolvePort(spec.grpc.port);
      const ok = port !== undefined && (await grpcHealthProbe(target.host, port, spec.grpc.service ?? '', kind, timeoutMs));
      return ok ? { ok, output: '' } : { ok, output: `timeout: failed to connect service "${target.host}:${String(port)}" within ${timeoutMs / 1000}s` };
    }
    if (spec.exec) {
      // The command belongs to the real image (e.g. /bin/grpc_health_probe); the stand-in
      // cannot run it, so ask the stand-in process itself whether it is healthy.
      if (target.standIn) {
        const ok = target.primaryPort !== undefined && (await httpProbe(`http://${target.host}:${target.primaryPort}/${kind === 'liveness' ? 'healthz' : 'readyz'}`, [], kind, timeoutMs)) < 400;
        return { ok, output: ok ? '' : `command ${JSON.stringify(spec.exec.command.join(' '))} failed (answered by the lab's stand-in)` };
      }
      const code = await execProbe(spec.exec.command, target.env, timeoutMs);
      return code === 0 ? { ok: true, output: '' } : { ok: false, output: `command ${JSON.stringify(spec.exec.command.join(' '))} exited with ${code}` };
    }
  } catch (error) {
    return { ok: false, output: goDialError(error, url, dial, timeoutMs) };
  }
  return { ok: true, output: '' };
}

/** The wording of Go's net/http errors, which is what a kubelet's probe output reads like. */
function goDialError(error: unknown, url: string, dial: string, timeoutMs: number): string {
  const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  const reason = code === 'ECONNREFUSED' ? `dial tcp ${dial}: connect: connection refused`
    : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'read: connection reset by peer'
      : code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? `context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
        : (error as Error).message || `no answer within ${timeoutMs / 1000}s`;
  return url ? `Get ${JSON.stringify(url)}: ${reason}` : reason;
}

async function httpProbe(url: string, headers: Array<{ name: string; value: string }>, kind: ProbeKind, timeoutMs: number): Promise<number> {
  const headerObject: Record<string, string> = { 'user-agent': 'kube-probe/1.30', [PROBE_HEADER]: kind };
  for (const header of headers) headerObject[header.name.toLowerCase()] = header.value;
  const response = await request(url, { method: 'GET', headers: headerObject, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, maxRedirections: 0 } as Parameters<typeof request>[1]);
  await response.body.dump();
  return response.statusCode;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function execProbe(command: string[], env: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const [file, ...args] = command;
    if (!file) return resolve(127);
    const child = spawn(file, args, { env, stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 137));
  });
}

/**
 * The gRPC health checking protocol (grpc.health.v1.Health/Check), spoken over HTTP/2
 * cleartext as the kubelet's gRPC probe does: SERVING (1) is success, anything else —
 * NOT_SERVING, an error status, no answer — is failure.
 * https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */
export function grpcHealthProbe(host: string, port: number, service: string, kind: ProbeKind | 'client', timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = connectHttp2(`http://${host}:${port}`);
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    session.on('error', () => done(false));
    const serviceBytes = Buffer.from(service, 'utf8');
    const message = serviceBytes.length > 0 ? Buffer.concat([Buffer.from([0x0a, serviceBytes.length]), serviceBytes]) : Buffer.alloc(0);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      [PROBE_HEADER]: kind,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== undefined) grpcStatus = String(trailers['grpc-status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => done(false));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      // HealthCheckResponse { ServingStatus status = 1; } → bytes 0x08 <varint>.
      const servingStatus = body.length >= 7 && body[5] === 0x08 ? body[6] : 0;
      done(grpcStatus === '0' && servingStatus === 1);
    });
    stream.end(frame);
  });
}

/**
 * The kubelet's probe loop: wait initialDelaySeconds, probe every periodSeconds, change
 * the result after successThreshold consecutive successes or failureThreshold consecutive
 * failures (defaults 1 and 3, https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Probe).
 */
const MIN_SCALED_PERIOD_MS = 250;
const MIN_SCALED_LIVENESS_PERIOD_MS = 1000;

export class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private result: boolean;

  constructor(
    private readonly spec: ProbeSpec,
    private readonly kind: ProbeKind,
    private readonly target: ProbeTarget,
    private readonly timeScale: number,
    private readonly onResult: (success: boolean) => void,
    /** Every failed attempt, with the probe's output (the kubelet records an Unhealthy Event for each). */
    private readonly onFailure?: (output: string) => void,
  ) {
    // Readiness and startup start as failing, liveness as passing, as in the kubelet.
    this.result = kind === 'liveness';
  }

  start(): void {
    this.schedule(Math.max(0, this.spec.initialDelaySeconds ?? 0) * 1000 * this.timeScale);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { ok, output } = await probeWithOutput(this.spec, this.kind, this.target);
    if (this.stopped) return;
    if (!ok) this.onFailure?.(output);
    if (ok) {
      this.successes++;
      this.failures = 0;
      // Liveness and startup probes must have successThreshold 1.
      const needed = this.kind === 'readiness' ? Math.max(1, this.spec.successThreshold ?? 1) : 1;
      if (!this.result && this.successes >= needed) this.change(true);
    } else {
      this.failures++;
      this.successes = 0;
      if ((this.result || this.kind !== 'readiness') && this.failures >= Math.max(1, this.spec.failureThreshold ?? 3)) {
        this.failures = 0;
        this.change(false);
      }
    }
    if (this.kind === 'startup' && this.result) return; // a startup probe stops once it has passed
    // Scaled periods keep a floor: an app's start-up time does not shrink with the scale,
    // and a liveness probe scaled below it would kill apps that are merely starting.
    const floor = this.kind === 'readiness' ? MIN_SCALED_PERIOD_MS : MIN_SCALED_LIVENESS_PERIOD_MS;
    this.schedule(Math.max(Math.min(floor, (this.spec.periodSeconds ?? 10) * 1000), Math.max(1, this.spec.periodSeconds ?? 10) * 1000 * this.timeScale));
  }

  private change(result: boolean): void {
    const changed = result !== this.result;
    this.result = result;
    if (changed || !result) this.onResult(result);
  }
}
