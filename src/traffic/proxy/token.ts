import { readFileSync } from 'node:fs';
import { FerryError } from '../../util/errors.js';
import type { RouterConfig } from './config.js';

/** The admin bearer token: from admin.tokenFile, else the environment variable admin.tokenEnv. */
export function resolveAdminToken(config: RouterConfig, env: Record<string, string | undefined> = process.env): string | undefined {
  if (config.admin.tokenFile) {
    try {
      const token = readFileSync(config.admin.tokenFile, 'utf8').trim();
      if (token.length > 0) return token;
    } catch (error) {
      throw new FerryError('config', `cannot read the admin token file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
        location: { field: 'admin.tokenFile', file: config.admin.tokenFile },
        fix: 'point admin.tokenFile at a readable file holding the token, or use admin.tokenEnv',
        cause: error,
      });
    }
  }
  const token = env[config.admin.tokenEnv]?.trim();
  return token && token.length > 0 ? token : undefined;
}
