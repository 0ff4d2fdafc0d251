import { FerryError } from '../../util/errors.js';
import type { Side } from '../provider.js';
import type { DatabaseClientAccess } from './access.js';
import type { EndpointAccessConfig } from './schema.js';

/**
 * Ferry's own database endpoint (`ferry data endpoint`), driven through its admin API: the
 * part PgBouncer or ProxySQL play. Switching closes the client connections it holds, so the
 * applications reconnect — to the new side.
 */
export class EndpointClientAccess implements DatabaseClientAccess {
  readonly type = 'endpoint';

  constructor(
    private readonly config: EndpointAccessConfig,
    private readonly token: string | undefined,
  ) {}

  async current(): Promise<Side | 'unknown'> {
    const state = (await this.call('GET', '/side')) as { side?: string };
    return state.side === 'source' || state.side === 'target' ? state.side : 'unknown';
  }

  async pointTo(side: Side): Promise<void> {
    // The endpoint itself changes nothing when it already points there.
    await this.call('PUT', '/side', { side });
  }

  async close(): Promise<void> {}

  private async call(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.config.adminUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method === 'PUT') {
      if (!this.token) {
        throw new FerryError('forbidden', `no admin token for the database endpoint: ${this.config.tokenEnv} is not set`, {
          location: { field: 'data.clientAccess.tokenEnv' },
          fix: `set ${this.config.tokenEnv} to the token the endpoint was started with`,
        });
      }
      headers.authorization = `Bearer ${this.token}`;
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
    } catch (error) {
      throw new FerryError('unreachable', `cannot reach the database endpoint's admin API at ${this.config.adminUrl}: ${(error as Error).message}`, {
        location: { field: 'data.clientAccess.adminUrl' },
        fix: 'start it with `ferry data endpoint --listen … --source … --target … --admin …` and check the admin address',
        cause: error,
      });
    }
    const payload = (await response.json().catch(() => ({}))) as { message?: string; fix?: string };
    if (!response.ok) {
      throw new FerryError(`endpoint-${response.status}`, `database endpoint admin API: ${method} ${url.pathname}: ${payload.message ?? response.statusText}`, {
        location: { field: 'data.clientAccess' },
        fix: payload.fix,
      });
    }
    return payload;
  }
}
