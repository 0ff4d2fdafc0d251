/**
 * The call-graph app's gRPC service, shared by the app and by whoever calls it (tests, the
 * router's gRPC checks): one unary method whose messages are JSON, so no .proto file or
 * code generation is needed — grpc-js takes any (de)serializer.
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceDefinition } from '@grpc/grpc-js';

export const CALLGRAPH_GRPC_SERVICE = 'ferry.callgraph.CallGraph';
export const CALLGRAPH_GRPC_PATH = `/${CALLGRAPH_GRPC_SERVICE}/Call`;

/** Request and answer are JSON objects; the answer is the same JSON the app serves over HTTP. */
export type CallGraphMessage = Record<string, unknown>;

const toJson = (value: CallGraphMessage): Buffer => Buffer.from(JSON.stringify(value ?? {}));
const fromJson = (bytes: Buffer): CallGraphMessage => (bytes.length === 0 ? {} : (JSON.parse(bytes.toString('utf8')) as CallGraphMessage));

export const CALLGRAPH_GRPC_DEFINITION: ServiceDefinition = {
  Call: {
    path: CALLGRAPH_GRPC_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: toJson,
    requestDeserialize: fromJson,
    responseSerialize: toJson,
    responseDeserialize: fromJson,
    originalName: 'call',
  },
};

/** The gRPC health service (grpc.health.v1.Health/Check), which kubelet gRPC probes call. */
export const HEALTH_GRPC_DEFINITION: ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    // HealthCheckRequest {string service = 1}: the lab serves one service, so it is not read.
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: () => ({}),
    // HealthCheckResponse {ServingStatus status = 1}: field 1, varint; SERVING = 1, NOT_SERVING = 2.
    responseSerialize: (value: { status: number }) => Buffer.from([0x08, value.status]),
    responseDeserialize: (bytes: Buffer) => ({ status: bytes[1] ?? 0 }),
  },
};

export interface CallGraphGrpcClient extends Client {
  Call(request: CallGraphMessage, metadata: import('@grpc/grpc-js').Metadata, options: import('@grpc/grpc-js').CallOptions, callback: (error: import('@grpc/grpc-js').ServiceError | null, answer?: CallGraphMessage) => void): unknown;
}

const ClientConstructor = makeGenericClientConstructor(CALLGRAPH_GRPC_DEFINITION, CALLGRAPH_GRPC_SERVICE);

/**
 * A client for `target` (`host:port`, no scheme), plaintext. grpc-js reads grpc_proxy /
 * https_proxy / http_proxy and no_grpc_proxy / no_proxy itself and tunnels by CONNECT.
 */
export function callGraphGrpcClient(target: string): CallGraphGrpcClient {
  return new ClientConstructor(target, credentials.createInsecure()) as unknown as CallGraphGrpcClient;
}
