/**
 * The server side of RFC 6455 for the lab's sample apps: the opening handshake, frames
 * (masked from the client, any length, fragmented messages), ping/pong and the closing
 * handshake. Hand-written rather than the `ws` package because `ws` is only a transitive
 * dependency of @kubernetes/client-node here (no types, no version of our own), a sample app
 * needs ~150 lines of it, and the test servers in test/integration/traffic already speak
 * the protocol the same way. No extensions (permessage-deflate is declined by omission)
 * and no subprotocols.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Larger messages are refused with 1009 (message too big): a sample app needs no more. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** How long the closing handshake may take before the TCP connection is cut anyway. */
const CLOSE_TIMEOUT_MS = 1_000;

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_TOO_BIG = 1009;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface WebSocketMessage {
  data: Buffer;
  binary: boolean;
}

export interface WebSocketConnection {
  /** False once either side has started closing: nothing more may be sent. */
  readonly open: boolean;
  send(data: string | Buffer): void;
  /** Starts the closing handshake with `code`; resolves when the TCP connection has closed. */
  close(code?: number, reason?: string): Promise<void>;
  /** Resolves with the close code (the peer's or ours; 1006 when the connection just dropped) once closed. */
  readonly closed: Promise<number>;
}

/** Whether `request` asks for a WebSocket (an `upgrade` event may carry another protocol). */
export function isWebSocketRequest(request: IncomingMessage): boolean {
  return (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/**
 * Completes the opening handshake on `socket` (an HTTP server's 'upgrade' event) and calls
 * `onMessage` for every whole message. A request that is not a valid version-13 WebSocket
 * handshake is answered 400/426 and closed; then `undefined`.
 */
export function acceptWebSocket(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  onMessage: (connection: WebSocketConnection, message: WebSocketMessage) => void,
): WebSocketConnection | undefined {
  socket.on('error', () => socket.destroy());
  const key = request.headers['sec-websocket-key'];
  if (!isWebSocketRequest(request) || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    socket.end(plain('400 Bad Request', 'a WebSocket handshake needs Upgrade: websocket and a Sec-WebSocket-Key\n'));
    return undefined;
  }
  if (request.headers['sec-websocket-version'] !== '13') {
    socket.end(plain('426 Upgrade Required', 'only WebSocket version 13 is spoken\n', 'sec-websocket-version: 13\r\n'));
    return undefined;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);

  let state: 'open' | 'closing' | 'closed' = 'open';
  let closeCode = 1006;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  let closeTimer: NodeJS.Timeout | undefined;
  socket.once('close', () => {
    state = 'closed';
    if (closeTimer) clearTimeout(closeTimer);
    resolveClosed(closeCode);
  });

  const sendClose = (code: number, reason = ''): void => {
    if (state !== 'open') return;
    state = 'closing';
    closeCode = code;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    socket.write(frame(OP_CLOSE, payload));
    // The peer answers with its close frame and we then end TCP; a peer that never answers is cut.
    closeTimer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
    closeTimer.unref();
  };

  const connection: WebSocketConnection = {
    get open() {
      return state === 'open';
    },
    send(data) {
      if (state !== 'open') return;
      const binary = Buffer.isBuffer(data);
      socket.write(frame(binary ? OP_BINARY : OP_TEXT, binary ? data : Buffer.from(data, 'utf8')));
    },
    async close(code = CLOSE_NORMAL, reason = '') {
      sendClose(code, reason);
      await closed;
    },
    closed,
  };

  let buffer: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragmentBytes = 0;
  let fragmentBinary = false;

  const onFrame = (fin: boolean, opcode: number, payload: Buffer): void => {
    if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (state === 'open') {
        // The peer closes: echo its code, then end TCP (the server closes TCP first, §7.1.1).
        state = 'closing';
        closeCode = code;
        socket.write(frame(OP_CLOSE, payload.subarray(0, 2)));
      }
      socket.end();
      return;
    }
    if (opcode === OP_PING) return void (state === 'open' && socket.write(frame(OP_PONG, payload)));
    if (opcode === OP_PONG) return;
    if (state !== 'open') return; // data after our close frame is dropped, as the RFC allows
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (fragments.length > 0) return sendClose(CLOSE_PROTOCOL_ERROR, 'a new message began inside a fragmented one');
      fragmentBinary = opcode === OP_BINARY;
    } else if (opcode !== OP_CONTINUATION || fragments.length === 0) {
      return sendClose(CLOSE_PROTOCOL_ERROR, `unexpected opcode ${opcode}`);
    }
    fragments.push(payload);
    fragmentBytes += payload.length;
    if (fragmentBytes > MAX_MESSAGE_BYTES) return sendClose(CLOSE_TOO_BIG, `messages are limited to ${MAX_MESSAGE_BYTES} bytes`);
    if (!fin) return;
    const data = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
    fragments = [];
    fragmentBytes = 0;
    onMessage(connection, { data, binary: fragmentBinary });
  };

  const parse = (): void => {
    for (;;) {
      if (buffer.length < 2) return;
      const fin = (buffer[0]! & 0x80) !== 0;
      const opcode = buffer[0]! & 0x0f;
      const masked = (buffer[1]! & 0x80) !== 0;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        const big = buffer.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE_BYTES)) return sendClose(CLOSE_TOO_BIG, `messages are limited to ${MAX_MESSAGE_BYTES} bytes`);
        length = Number(big);
        offset = 10;
      }
      if (!masked) {
        // Clients must mask every frame (§5.1); an unmasked one is a protocol error.
        sendClose(CLOSE_PROTOCOL_ERROR, 'client frames must be masked');
        buffer = Buffer.alloc(0);
        return;
      }
      if (buffer.length < offset + 4 + length) return;
      const mask = buffer.subarray(offset, offset + 4);
      const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffer = buffer.subarray(offset + 4 + length);
      onFrame(fin, opcode, payload);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    parse();
  });
  socket.on('end', () => socket.end());
  if (buffer.length > 0) setImmediate(parse);
  return connection;
}

/** One unmasked, unfragmented frame (servers never mask, §5.1). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let head: Buffer;
  if (length < 126) head = Buffer.from([0x80 | opcode, length]);
  else if (length < 65_536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([head, payload]);
}

function plain(status: string, text: string, extra = ''): string {
  return `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\n${extra}connection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
