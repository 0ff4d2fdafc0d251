import { readFileSync } from 'node:fs';
import { FerryError } from './errors.js';

/**
 * Reads a file people wrote (a plan, a manifest) as UTF-8, refusing anything else: Node's
 * 'utf8' decoding silently turns bad bytes into U+FFFD, which would then be applied to a
 * cluster as if the user had written it. `what` names the file's role in messages.
 */
export function readUtf8File(file: string, what: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw fileError(error, file, what);
  }
  return decodeUtf8(bytes, file);
}

/** Strict UTF-8 decoding (a leading BOM is dropped); the error names the line and column of the first bad byte. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const { line, column } = positionOfByte(bytes, offset);
    const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, '0');
    throw new FerryError('encoding', `not valid UTF-8: byte 0x${byte} (byte offset ${offset}) is not part of a UTF-8 character`, {
      location: { file, line, column },
      fix: 'save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); binary content belongs base64-encoded in a Secret\'s or ConfigMap\'s binaryData',
    });
  }
}

/**
 * Offset of the first byte that does not start or continue a well-formed UTF-8 sequence
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). Written by hand because
 * TextDecoder only says that decoding failed, not where.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min = 0x80;
    let max = 0xbf; // allowed range of the second byte
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0;
      if (lead === 0xed) max = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90;
      if (lead === 0xf4) max = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      const low = k === 1 ? min : 0x80;
      const high = k === 1 ? max : 0xbf;
      if (next === undefined || next < low || next > high) return i;
    }
    i += length;
  }
  return bytes.length;
}

/** 1-based line and column (in characters) of a byte offset, from the valid text before it. */
function positionOfByte(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const before = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, offset));
  return { line, column: [...before].length + 1 };
}

function fileError(error: unknown, file: string, what: string): FerryError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'is a directory, not a file'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : `cannot be read (${code ?? (error as Error).message})`;
  return new FerryError('file', `${what} ${reason}`, {
    location: { file },
    fix: code === 'EACCES' || code === 'EPERM' ? 'make the file readable by this user' : `pass the path of a ${what}`,
    cause: error,
  });
}
