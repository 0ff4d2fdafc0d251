import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { JournalRecord } from './record.js';

export interface FollowOptions {
  signal: AbortSignal;
  /** Records up to and including this seq are skipped (already seen). */
  fromSeq?: number;
  /** How often the file is read when no change event came (fs.watch can miss appends on some filesystems). */
  pollMs?: number;
}

/**
 * Tails a journal written by another process (`ferry run` in another terminal, the
 * controller) and tells `onRecord` each whole record, in order, until the signal aborts.
 * A line still being written is held back until its newline arrives, so a reader never sees
 * half a record; a file that does not exist yet is waited for. The chain and MACs are not
 * verified here — that is `verifyJournal`'s job, which needs the key — so a follower shows
 * what the file says and the report says whether it verifies.
 */
export async function followJournal(path: string, onRecord: (record: JournalRecord) => void, options: FollowOptions): Promise<void> {
  const { signal } = options;
  let offset = 0;
  let pending = '';
  // A read can end inside a multi-byte character: the decoder keeps its first bytes for the next read.
  const decoder = new StringDecoder('utf8');
  let lastSeq = options.fromSeq ?? 0;
  let handle: FileHandle | undefined;
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();
  signal.addEventListener('abort', nudge, { once: true });

  const readMore = async (): Promise<void> => {
    handle ??= await open(path, 'r').catch(() => undefined);
    if (!handle) return;
    if (!watcher) {
      try {
        watcher = watch(path, nudge);
        watcher.on('error', () => undefined);
      } catch {
        // polling alone still follows the file
      }
    }
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      pending += decoder.write(chunk.subarray(0, bytesRead));
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let record: JournalRecord;
        try {
          record = JSON.parse(line) as JournalRecord;
        } catch {
          continue; // a torn line left by a crash: the writer drops it when the run is resumed
        }
        if (record.seq <= lastSeq) continue;
        lastSeq = record.seq;
        onRecord(record);
      }
    }
  };

  try {
    while (!signal.aborted) {
      await readMore();
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 250);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    signal.removeEventListener('abort', nudge);
    watcher?.close();
    await handle?.close();
  }
}
