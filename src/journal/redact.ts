import { redact } from '../data/redact.js';
import { FerryError } from '../util/errors.js';

/**
 * Journals are kept for audits and may be shared: nothing secret may enter them. Values
 * under secret-like keys are refused outright (a bug in the caller), and connection
 * strings have their password replaced wherever they appear.
 */
const SECRET_KEYS = /^(password|passwd|secret|token|stringData|privateKey|apiKey|credentials?)$/i;

export function redactForJournal(value: unknown, path = 'data'): unknown {
  // The same masking as every data error path: URIs with or without a user, password=, JSON.
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item, i) => redactForJournal(item, `${path}[${i}]`));
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_KEYS.test(key) && inner !== undefined && inner !== '<redacted>') {
      throw new FerryError('internal', `refusing to journal a secret-like field ${path}.${key}`, { fix: 'this is a bug in Ferry: report it' });
    }
    result[key] = redactForJournal(inner, `${path}.${key}`);
  }
  return result;
}
