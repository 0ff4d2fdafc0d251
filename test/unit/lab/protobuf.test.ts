/**
 * The lab's protobuf request decoder: the Kubernetes envelope, the special JSON forms
 * (times, quantities, int-or-string, bytes, 64-bit integers), absent optional fields, and the
 * 415 refusal of field numbers and kinds its table does not know.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { decodeProtobufBody, goDuration } from '../../../src/lab/api/protobuf/decode.js';
import { schema } from '../../../src/lab/api/protobuf/schema.js';
import { ApiError } from '../../../src/lab/api/status.js';

const MAGIC = Buffer.from('k8s\0', 'latin1');

function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const unknown = schema().type('Unknown');
  return Buffer.concat([MAGIC, unknown.encode(unknown.create({ typeMeta: { apiVersion, kind }, raw })).finish()]);
}

function encode(type: string, value: Record<string, unknown>): Uint8Array {
  const message = schema().type(type);
  return message.encode(message.fromObject(value)).finish();
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the body to be refused');
}

test('a Deployment decodes to the JSON kubectl would send, absent fields staying absent', () => {
  const raw = encode('Deployment', {
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, creationTimestamp: {} },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      strategy: { rollingUpdate: { maxSurge: { type: 1, strVal: '25%' }, maxUnavailable: { type: 0, intVal: 0 } } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: { string: '500m' } } } }] },
      },
    },
    status: {},
  });
  assert.deepEqual(decodeProtobufBody(envelope('apps/v1', 'Deployment', raw)), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '500m' } } }] },
      },
    },
    status: {},
  });
});

test('bytes become base64, times RFC 3339, int64 numbers, embedded structs merge into their parent', () => {
  const secret = decodeProtobufBody(envelope('v1', 'Secret', encode('Secret', {
    metadata: { name: 's', deletionTimestamp: { seconds: 1_700_000_000 }, deletionGracePeriodSeconds: 0 },
    data: { key: Buffer.from([0, 255, 1]), empty: Buffer.alloc(0) },
  })));
  assert.deepEqual(secret.data, { key: Buffer.from([0, 255, 1]).toString('base64'), empty: '' });
  assert.deepEqual(secret.metadata, { name: 's', deletionTimestamp: '2023-11-14T22:13:20Z', deletionGracePeriodSeconds: 0 });

  const pod = decodeProtobufBody(envelope('v1', 'Pod', encode('Pod', {
    metadata: { name: 'p' },
    spec: {
      activeDeadlineSeconds: 9_000_000_000,
      containers: [{ name: 'c', env: [{ name: 'A', valueFrom: { secretKeyRef: { ref: { name: 'db' }, key: 'password' } } }], livenessProbe: { handler: { httpGet: { path: '/', port: { type: 1, strVal: 'http' } } }, periodSeconds: 5 } }],
      volumes: [{ name: 'cfg', source: { configMap: { ref: { name: 'settings' }, defaultMode: 420 } } }],
    },
  })));
  assert.deepEqual(pod.spec, {
    activeDeadlineSeconds: 9_000_000_000,
    containers: [{ name: 'c', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }], livenessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 } }],
    volumes: [{ name: 'cfg', configMap: { name: 'settings', defaultMode: 420 } }],
  });
});

test('a field number the table does not know is refused with 415, naming kind, message and number', () => {
  const container = schema().type('Container');
  const writer = protobuf.Writer.create();
  container.encode(container.create({ name: 'nginx' }), writer);
  writer.uint32((99 << 3) | 2).string('from the future');
  const containerBytes = writer.finish();
  const podSpec = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(containerBytes).finish();
  const template = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(podSpec).finish();
  const spec = protobuf.Writer.create().uint32((3 << 3) | 2).bytes(template).finish();
  const deployment = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(spec).finish();
  const error = refusal(() => decodeProtobufBody(envelope('apps/v1', 'Deployment', deployment)));
  assert.equal(error.code, 415);
  assert.equal(error.reason, 'UnsupportedMediaType');
  assert.match(error.message, /Deployment \(apps\/v1\): field number 99 of Container at spec\.template\.spec\.containers\[0\]/);
  assert.match(error.message, /kubectl apply -f/);
});

test('kinds outside the table and bodies without the envelope are refused with 415', () => {
  const kind = refusal(() => decodeProtobufBody(envelope('scheduling.k8s.io/v1', 'PriorityClass', new Uint8Array())));
  assert.equal(kind.code, 415);
  assert.match(kind.message, /does not decode protobuf PriorityClass \(scheduling\.k8s\.io\/v1\)/);
  const bare = refusal(() => decodeProtobufBody(Buffer.from('{"kind":"Namespace"}')));
  assert.equal(bare.code, 415);
  assert.match(bare.message, /envelope/);
});

test('durations print as Go does', () => {
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(1_500_000), '1.5ms');
  assert.equal(goDuration(90_000_000_000), '1m30s');
  assert.equal(goDuration(3_723_500_000_000), '1h2m3.5s');
});
