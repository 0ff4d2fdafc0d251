/**
 * Decodes `application/vnd.kubernetes.protobuf` request bodies into the JSON object the same
 * request would carry as `application/json`, so the lab's normal create/update path runs.
 *
 * kubectl's typed clients (`kubectl create namespace|deployment|configmap…`, `kubectl auth
 * can-i`) send protobuf: 4 magic bytes `k8s\0`, then a runtime.Unknown message {typeMeta,
 * raw, contentEncoding, contentType} whose `raw` is the object in the protobuf encoding of
 * k8s.io/api. The messages come from our own table (schema.ts). A field number the table
 * does not know is refused with 415 naming the kind, the message and the field number:
 * dropping it silently would create an object different from the one the user asked for.
 */
import protobuf from 'protobufjs';
import { ApiError } from '../status.js';
import { KINDS, SPECIAL, schema, type FieldSpec } from './schema.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

const WORKAROUND = 'Send this object as JSON or YAML instead: `kubectl apply -f <file>.yaml`, or `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`.';

export function isProtobuf(contentType: string): boolean {
  return contentType.split(';')[0]!.trim().toLowerCase() === PROTOBUF_MEDIA_TYPE;
}

function refuse(message: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `${message}. ${WORKAROUND}`);
}

type Message = protobuf.Message & Record<string, unknown>;

interface Context {
  /** `Deployment (apps/v1)` for messages. */
  what: string;
}

/** Decodes one protobuf request body into its JSON object (apiVersion and kind first). */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw refuse('the lab could not read this protobuf body: it does not start with the Kubernetes protobuf envelope ("k8s\\0")');
  }
  const s = schema();
  const envelope = decodeMessage(s.type('Unknown'), body.subarray(MAGIC.length), 'the protobuf envelope (runtime.Unknown)');
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion ?? '';
  const kind = typeMeta.kind ?? '';
  const what = `${kind || 'object'}${apiVersion ? ` (${apiVersion})` : ''}`;
  if (envelope.contentEncoding) throw refuse(`the lab cannot decode the protobuf ${what}: content encoding "${String(envelope.contentEncoding)}" is not supported`);
  const message = KINDS[`${apiVersion}/${kind}`];
  if (!message) throw refuse(`the lab does not decode protobuf ${what}: its protobuf table covers ${coveredKinds()}`);
  const raw = envelope.raw instanceof Uint8Array ? envelope.raw : new Uint8Array();
  const decoded = decodeMessage(s.type(message), raw, `the protobuf ${what}`);
  const object = convertMessage(message, decoded, '', { what });
  return { apiVersion, kind, ...object };
}

function coveredKinds(): string {
  return [...new Set(Object.values(KINDS))].filter((kind) => kind !== 'DeleteOptions').sort().join(', ');
}

function decodeMessage(type: protobuf.Type, bytes: Uint8Array, what: string): Message {
  const reader = protobuf.Reader.create(bytes);
  reader.discardUnknown = false;
  try {
    return type.decode(reader) as Message;
  } catch (error) {
    throw refuse(`the lab could not read ${what}: ${(error as Error).message}`);
  }
}

function own(message: Message, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, name);
}

/** Refuses fields the table does not know (protobufjs keeps them in `$unknowns`). */
function checkUnknowns(typeName: string, message: Message, path: string, context: Context): void {
  const unknowns = (message as { $unknowns?: Uint8Array[] }).$unknowns;
  if (!unknowns || unknowns.length === 0) return;
  const numbers = [...new Set(unknowns.map((raw) => protobuf.Reader.create(raw).uint32() >>> 3))].sort((a, b) => a - b);
  const fields = numbers.length === 1 ? `field number ${numbers[0]}` : `field numbers ${numbers.join(', ')}`;
  throw refuse(`the lab cannot decode the protobuf ${context.what}: ${fields} of ${typeName}${path ? ` at ${path}` : ''} is not in the lab's protobuf table (kubectl is newer than the lab, or the field is not covered)`);
}

function convertMessage(typeName: string, message: Message, path: string, context: Context): Record<string, unknown> {
  checkUnknowns(typeName, message, path, context);
  const out: Record<string, unknown> = {};
  for (const field of schema().fields.get(typeName) ?? []) {
    if (!own(message, field.name)) continue;
    const value = convertField(field, message[field.name], path ? `${path}.${field.name}` : field.name, context);
    if (value === undefined) continue;
    if (field.inline) Object.assign(out, value);
    else out[field.name] = value;
  }
  return out;
}

function convertField(field: FieldSpec, value: unknown, path: string, context: Context): unknown {
  if (field.kind === 'repeated') {
    const list = value as unknown[];
    if (!Array.isArray(list) || list.length === 0) return undefined;
    return list.map((item, index) => convertValue(field.type, item, `${path}[${index}]`, context, true));
  }
  if (field.kind === 'map') {
    const entries = Object.entries((value ?? {}) as Record<string, unknown>);
    if (entries.length === 0) return undefined;
    return Object.fromEntries(entries.map(([key, item]) => [key, convertValue(field.type, item, `${path}[${key}]`, context, true)]));
  }
  return convertValue(field.type, value, path, context, field.keepZero);
}

function convertValue(type: string, value: unknown, path: string, context: Context, keepZero: boolean): unknown {
  switch (type) {
    case 'string':
      return keepZero || value !== '' ? value : undefined;
    case 'bool':
      return keepZero || value === true ? value : undefined;
    case 'int32': {
      const number = Number(value);
      return keepZero || number !== 0 ? number : undefined;
    }
    case 'int64': {
      const number = toNumber(value);
      return keepZero || number !== 0 ? number : undefined;
    }
    case 'bytes': {
      const bytes = Buffer.from(value as Uint8Array);
      return keepZero || bytes.length > 0 ? bytes.toString('base64') : undefined;
    }
  }
  const message = value as Message;
  if (SPECIAL.has(type)) return convertSpecial(type, message, path, context, keepZero);
  return convertMessage(type, message, path, context);
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  // int64 fields decode to Long objects (protobufjs uses the `long` package when present).
  if (value && typeof (value as { toNumber?: unknown }).toNumber === 'function') return (value as { toNumber(): number }).toNumber();
  return Number(value ?? 0);
}

function convertSpecial(type: string, message: Message, path: string, context: Context, keepZero: boolean): unknown {
  checkUnknowns(type, message, path, context);
  switch (type) {
    case 'Time':
    case 'MicroTime': {
      const seconds = own(message, 'seconds') ? toNumber(message.seconds) : 0;
      const nanos = own(message, 'nanos') ? Number(message.nanos) : 0;
      // A zero time is sent as an empty message; JSON carries it as null, i.e. unset.
      if (!own(message, 'seconds') && !own(message, 'nanos')) return undefined;
      return type === 'Time' ? rfc3339(seconds) : rfc3339Micro(seconds, nanos);
    }
    case 'Duration':
      return goDuration(own(message, 'duration') ? toNumber(message.duration) : 0);
    case 'Quantity':
      return own(message, 'string') && message.string !== '' ? message.string : '0';
    case 'IntOrString': {
      const isString = own(message, 'type') && toNumber(message.type) === 1;
      if (isString) return own(message, 'strVal') ? message.strVal : '';
      const number = own(message, 'intVal') ? Number(message.intVal) : 0;
      return keepZero || number !== 0 ? number : undefined;
    }
    case 'RawExtension':
    case 'FieldsV1': {
      const raw = own(message, 'raw') ? Buffer.from(message.raw as Uint8Array) : Buffer.alloc(0);
      if (raw.length === 0) return undefined;
      try {
        return JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        throw refuse(`the lab cannot decode the protobuf ${context.what}: ${path} holds an embedded object that is not JSON`);
      }
    }
  }
  return undefined;
}

function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function rfc3339Micro(seconds: number, nanos: number): string {
  const micros = String(Math.floor(nanos / 1000)).padStart(6, '0');
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}

/** time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
export function goDuration(nanoseconds: number): string {
  if (nanoseconds === 0) return '0s';
  const sign = nanoseconds < 0 ? '-' : '';
  let n = Math.abs(nanoseconds);
  if (n < 1_000) return `${sign}${n}ns`;
  if (n < 1_000_000) return `${sign}${trim(n / 1_000)}µs`;
  if (n < 1_000_000_000) return `${sign}${trim(n / 1_000_000)}ms`;
  const hours = Math.floor(n / 3_600_000_000_000);
  n -= hours * 3_600_000_000_000;
  const minutes = Math.floor(n / 60_000_000_000);
  n -= minutes * 60_000_000_000;
  const seconds = `${trim(n / 1_000_000_000)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function trim(value: number): string {
  return value.toFixed(9).replace(/\.?0+$/, '');
}
