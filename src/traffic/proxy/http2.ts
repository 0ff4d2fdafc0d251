import { connect, type ClientHttp2Session } from 'node:http2';

/**
 * HTTP/2 connections to one backend: h2c for `http://` URLs (prior knowledge), TLS with ALPN
 * h2 for `https://`. One session carries every concurrent stream (HTTP/2 multiplexes, so
 * there is no pool of connections as for HTTP/1.1). A session that received GOAWAY takes no
 * new streams (the ones in flight finish on it) and the next request opens a new one; a
 * closed or failed session is dropped the same way.
 */
export class H2Upstream {
  private session: ClientHttp2Session | undefined;
  private connecting: Promise<ClientHttp2Session> | undefined;
  private readonly all = new Set<ClientHttp2Session>();

  constructor(
    readonly url: string,
    private readonly connectTimeoutMs: number,
  ) {}

  /** A session ready for a new stream now, if there is one (no promise on the hot path). */
  current(): ClientHttp2Session | undefined {
    const session = this.session;
    return session && !session.closed && !session.destroyed ? session : undefined;
  }

  /** Connects (or joins the connect in progress); rejects with the socket's error (ECONNREFUSED…). */
  connect(): Promise<ClientHttp2Session> {
    const ready = this.current();
    if (ready) return Promise.resolve(ready);
    this.connecting ??= new Promise<ClientHttp2Session>((resolve, reject) => {
      const session = connect(this.url, { settings: { enablePush: false } });
      this.all.add(session);
      const timer = setTimeout(() => {
        session.destroy(Object.assign(new Error(`HTTP/2 connect to ${this.url} timed out`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
      }, this.connectTimeoutMs);
      let settled = false;
      const forget = (): void => {
        if (this.session === session) this.session = undefined;
      };
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.connecting = undefined;
        reject(error);
      };
      session.once('connect', () => {
        settled = true;
        clearTimeout(timer);
        this.connecting = undefined;
        this.session = session;
        resolve(session);
      });
      // After connect, errors reach the streams on the session; the session is only forgotten.
      session.on('error', (error: Error) => {
        forget();
        fail(error);
      });
      session.once('goaway', forget);
      session.once('close', () => {
        forget();
        this.all.delete(session);
        fail(Object.assign(new Error(`HTTP/2 connection to ${this.url} closed`), { code: 'UND_ERR_CLOSED' }));
      });
    });
    return this.connecting;
  }

  /** Forgets the session (after a stream could not be opened on it) so that the next call reconnects. */
  drop(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }

  /** GOAWAY to the backend; streams in flight get `drainMs` to finish. */
  async close(drainMs = 5_000): Promise<void> {
    await Promise.all(
      [...this.all].map(
        (session) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => session.destroy(), drainMs);
            session.close(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    this.session = undefined;
  }
}
