import { pino, type Logger } from 'pino';

/**
 * Structured logs go to stderr so stdout stays machine-readable for `-o json`.
 * Secret-bearing paths are redacted by pino itself, before serialisation.
 */
export const REDACTED = '<redacted>';

export function createLogger(level: string = process.env.FERRY_LOG_LEVEL ?? 'warn'): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['data', 'stringData', '*.data', '*.stringData', 'password', '*.password', 'token', '*.token', 'secret', '*.secret'],
        censor: REDACTED,
      },
    },
    pino.destination(2),
  );
}

export const log: Logger = createLogger();
