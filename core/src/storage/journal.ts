/**
 * An append-only journal of checksummed entries, replayed on open: the durable half of an in-memory
 * state. A torn last entry (a crash mid-write) is cut off on open; every acknowledged entry survives.
 * `rewrite` replaces the whole journal atomically with a compacted set of entries.
 */
import { constants } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDirectory } from './atomic-file.js';
import { FRAME_HEADER_BYTES, frameHeader, scanFrames } from './frame-file.js';
import { SyncScheduler, type DurabilityOptions } from './fsync-policy.js';
import { writeAll } from './write-all.js';

export interface JournalOpenOptions extends DurabilityOptions {
  /** Called for each entry found on open, in order. */
  replay: (payload: Buffer) => void;
  onBackgroundError: (error: unknown) => void;
}

export class Journal {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly syncScheduler: SyncScheduler;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private bytes: number,
    /** Bytes cut from the end on open: what a crash left half written. */
    readonly truncatedBytes: number,
    private readonly options: JournalOpenOptions,
  ) {
    this.syncScheduler = new SyncScheduler(options, () => this.handle.datasync(), options.onBackgroundError);
  }

  static async open(path: string, options: JournalOpenOptions): Promise<Journal> {
    await rm(`${path}.compacting`, { force: true });
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT);
    try {
      const fileSize = (await stat(path)).size;
      const { validEnd } = await scanFrames(handle, 0, fileSize, ({ payload }) => options.replay(payload), {
        onInvalid: 'stop',
        file: path,
      });
      if (validEnd < fileSize) await handle.truncate(validEnd);
      return new Journal(path, handle, validEnd, fileSize - validEnd, options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Bytes the journal holds; owners compact when it grows past what the state needs. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Appends entries in one write; resolves once they are durable per the fsync policy. With
   * `deferSync`, they become durable with the next synced append instead (a sync covers the whole file),
   * for entries nobody relies on until a later one lands.
   */
  append(payloads: readonly Buffer[], options: { deferSync?: boolean } = {}): Promise<void> {
    return this.serialize(async () => {
      const buffers = payloads.flatMap((payload) => [frameHeader(payload), payload]);
      try {
        this.bytes += await writeAll(this.handle, buffers, this.bytes);
      } catch (error) {
        // Cut what part of the entries made it, so the next append starts at a frame boundary.
        await this.handle.truncate(this.bytes);
        throw error;
      }
      if (options.deferSync) this.syncScheduler.markDirty();
      else await this.syncScheduler.afterWrite();
    });
  }

  /** Replaces the journal's content with `payloads`, atomically: a crash leaves the old or the new. */
  rewrite(payloads: Iterable<Buffer>): Promise<void> {
    return this.serialize(async () => {
      const temporary = `${this.path}.compacting`;
      const next = await open(temporary, 'w');
      let bytes = 0;
      try {
        let pending: Buffer[] = [];
        for (const payload of payloads) {
          pending.push(frameHeader(payload), payload);
          bytes += FRAME_HEADER_BYTES + payload.length;
          if (pending.length >= 512) {
            await writeAll(next, pending);
            pending = [];
          }
        }
        await writeAll(next, pending);
        await next.sync();
      } finally {
        await next.close();
      }
      await rename(temporary, this.path);
      await syncDirectory(dirname(this.path));
      await this.handle.close();
      this.handle = await open(this.path, 'r+');
      this.bytes = bytes;
    });
  }

  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    this.syncScheduler.close();
    if (this.options.fsync !== 'never') await this.handle.datasync();
    await this.handle.close();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
