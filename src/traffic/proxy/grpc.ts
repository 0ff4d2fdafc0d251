/**
 * gRPC as the router sees it: HTTP/2 requests with `content-type: application/grpc[+proto|…]`
 * whose outcome is the `grpc-status` trailer (or header, in a trailers-only response), not
 * the HTTP status, which is 200 for every gRPC call that reached the server.
 */
export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** UNAVAILABLE: what the router answers a gRPC call no backend took (gRPC clients retry it). */
export const GRPC_UNAVAILABLE = 14;

export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/** The numeric grpc-status of a header or trailer block, -1 when absent or malformed. */
export function grpcStatusOf(value: string | string[] | undefined): number {
  if (typeof value !== 'string') return -1;
  const code = Number(value);
  return Number.isInteger(code) && code >= 0 && code < GRPC_STATUS_NAMES.length ? code : -1;
}

/** The error string the observation listeners get for a failed call, e.g. `grpc UNAVAILABLE`. */
export function grpcError(code: number): string {
  return `grpc ${GRPC_STATUS_NAMES[code] ?? code}`;
}
