import { connect } from 'node:net';
import { rename, writeFile } from 'node:fs/promises';
import { FerryError } from '../util/errors.js';
import type { HaproxyProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * HAProxy through its runtime API (https://docs.haproxy.org/2.6/management.html#9.3):
 * `set server be/s weight W` applies from the next routing decision without a reload. The
 * runtime API's changes are lost on reload, so after every change the output of
 * `show servers state` is written to the `server-state-file` that haproxy.cfg loads
 * (`load-server-state-from-file global`). The backend must use a dynamic algorithm
 * (roundrobin, leastconn): static ones accept only 0% or 100%.
 */
export class HaproxyProvider implements TrafficProvider {
  readonly type = 'haproxy' as const;
  // HAProxy 2.6 mirrors only through an external SPOE agent; sticky users by its own cookie.
  readonly capabilities = { mirror: false, mirrorPercent: false, sticky: true };

  constructor(private readonly config: HaproxyProviderConfig) {}

  async reconcile(): Promise<{ settleMs: number }> {
    await this.readWeight(this.config.sourceServer);
    await this.readWeight(this.config.targetServer);
    return { settleMs: 0 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    const { backend, sourceServer, targetServer } = this.config;
    // Raise the side that gains first so there is never a moment with both at 0.
    const commands = [
      `set server ${backend}/${sourceServer} weight ${100 - targetPercent}`,
      `set server ${backend}/${targetServer} weight ${targetPercent}`,
    ];
    if (targetPercent > 50) commands.reverse();
    for (const command of commands) {
      const answer = (await runtimeCommand(this.config.socket, command)).trim();
      if (answer.length > 0) throw new FerryError('haproxy', `HAProxy refused "${command}": ${answer}`, { fix: 'check the backend and server names and that the socket has level admin' });
    }
    await this.persist();
  }

  async getWeights(): Promise<TrafficWeights> {
    const source = await this.readWeight(this.config.sourceServer);
    const target = await this.readWeight(this.config.targetServer);
    const total = source + target;
    if (total === 0) return { source: 0, target: 0 };
    const targetPercent = Math.round((target * 100) / total);
    return { source: 100 - targetPercent, target: targetPercent };
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
  }

  async status(): Promise<TrafficStatus> {
    const stats = parseStatCsv(await runtimeCommand(this.config.socket, 'show stat'));
    const servers = stats
      .filter((row) => row.pxname === this.config.backend && row.svname !== 'BACKEND' && row.svname !== 'FRONTEND')
      .map((row) => ({ name: row.svname, status: row.status, weight: Number(row.weight), sessionsTotal: Number(row.stot), responses5xx: Number(row.hrsp_5xx) }));
    return { type: this.type, weights: await this.getWeights(), mirror: { enabled: false, percent: 0 }, detail: { backend: this.config.backend, servers } };
  }

  async finalize(): Promise<void> {
    await this.setWeight(0);
  }

  private async readWeight(server: string): Promise<number> {
    const answer = await runtimeCommand(this.config.socket, `get weight ${this.config.backend}/${server}`);
    const match = /^(\d+) \(initial (\d+)\)/.exec(answer.trim());
    if (!match) {
      throw new FerryError('haproxy', `HAProxy has no server ${this.config.backend}/${server}: ${answer.trim()}`, {
        location: { field: 'traffic.provider.backend' },
        fix: 'name a backend and servers that exist in haproxy.cfg',
      });
    }
    return Number(match[1]);
  }

  private async persist(): Promise<void> {
    if (!this.config.serverStateFile) return;
    const state = await runtimeCommand(this.config.socket, 'show servers state');
    const temporary = `${this.config.serverStateFile}.tmp`;
    await writeFile(temporary, state);
    await rename(temporary, this.config.serverStateFile);
  }
}

/** Sends one command on a fresh runtime API connection and returns the whole answer. */
export function runtimeCommand(socket: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const hostPort = /^([^/:]+|\[[^\]]+\]):(\d+)$/.exec(socket);
    const connection = hostPort ? connect({ host: hostPort[1]!.replace(/^\[|\]$/g, ''), port: Number(hostPort[2]) }) : connect({ path: socket });
    const chunks: Buffer[] = [];
    connection.setTimeout(timeoutMs, () => connection.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    connection.on('connect', () => connection.end(`${command}\n`));
    connection.on('data', (chunk: Buffer) => chunks.push(chunk));
    connection.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    connection.on('error', (error: NodeJS.ErrnoException) =>
      reject(new FerryError('haproxy-unreachable', `cannot reach the HAProxy runtime API at ${socket}: ${error.code ?? error.message}`, {
        location: { field: 'traffic.provider.socket' },
        fix: 'add `stats socket <path> level admin` to haproxy.cfg and point traffic.provider.socket at it',
        cause: error,
      })),
    );
  });
}

/** `show stat` CSV (header line starts with "# ") as records keyed by column name. */
export function parseStatCsv(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter((line) => line.length > 0);
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']));
  });
}
