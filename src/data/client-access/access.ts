import type { Side } from '../provider.js';

/**
 * The address applications use to reach their database, which Ferry moves between the two
 * databases at cutover and failback: a Kubernetes Service's endpoints, an ExternalName, or a
 * re-pointable endpoint process (the part PgBouncer or ProxySQL play). One module per way.
 */
export interface DatabaseClientAccess {
  readonly type: string;
  /** Which side the applications reach now, read from the world (observe-then-ensure). */
  current(): Promise<Side | 'unknown'>;
  /**
   * Points the applications at one side; changes nothing when they already reach it. Client
   * connections to the old side are closed so that they reconnect (the endpoint closes its
   * own; for Services and ExternalNames, `deps.disconnect` ends sessions on the old database).
   */
  pointTo(side: Side): Promise<void>;
  close(): Promise<void>;
}

export function otherSide(side: Side): Side {
  return side === 'source' ? 'target' : 'source';
}
