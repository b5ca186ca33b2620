/**
 * One segment of a partition: a file of record-batch frames starting at `baseOffset`, and a sparse
 * offset index (every `indexIntervalBytes` or so, the base offset of a batch and its file position) so a
 * read from any offset seeks close to it instead of scanning the whole file.
 *
 * The index is a cache of the log file: on open, a missing, short or inconsistent index is rebuilt from
 * the log. Only the log's frames are the truth.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FRAME_HEADER_BYTES, frameHeader, scanFrames } from '../../../storage/frame-file.js';
import { writeAll } from '../../../storage/write-all.js';
import type { LogRecord } from '../event-log.js';
import { decodeRecordBatch, readBatchHeader } from './record-batch.js';

const INDEX_ENTRY_BYTES = 8;

export interface SegmentOptions {
  indexIntervalBytes: number;
}

export interface RecoveryReport {
  /** Bytes cut from the end of the file: a torn or corrupt tail from a crash. */
  truncatedBytes: number;
  indexRebuilt: boolean;
}

export interface EncodedBatch {
  baseOffset: number;
  count: number;
  payload: Buffer;
}

/**
 * How many bytes of a segment one read takes, for a read asking for `maxBytes` of records: a little more
 * than asked, since frames carry batch and record headers besides the bytes the limit counts (so a read of
 * about one chunk's worth of records needs one chunk, not a second one it mostly throws away), between
 * 64 KiB and 1 MiB.
 */
export function readChunkBytes(maxBytes: number): number {
  return Math.min(1024 * 1024, Math.max(64 * 1024, Math.ceil(maxBytes * 1.25)));
}

export function segmentFileName(baseOffset: number, extension: 'log' | 'index'): string {
  return `${String(baseOffset).padStart(20, '0')}.${extension}`;
}

export class Segment {
  /** Bytes of whole frames written. */
  size: number;
  /** Bytes readers may see: whole frames whose append was acknowledged. */
  visibleSize: number;
  /** One past the last offset written to this segment. */
  nextOffset: number;
  private readonly indexOffsets: number[];
  private readonly indexPositions: number[];
  private bytesSinceIndexEntry: number;

  private constructor(
    readonly baseOffset: number,
    readonly path: string,
    private readonly log: FileHandle,
    /** Undefined for a segment opened read-only without an index file. */
    private readonly index: FileHandle | undefined,
    private readonly options: SegmentOptions,
    state: { size: number; nextOffset: number; offsets: number[]; positions: number[] },
  ) {
    this.size = state.size;
    this.visibleSize = state.size;
    this.nextOffset = state.nextOffset;
    this.indexOffsets = state.offsets;
    this.indexPositions = state.positions;
    const lastPosition = state.positions.at(-1) ?? 0;
    this.bytesSinceIndexEntry = state.size - lastPosition;
  }

  static async create(directory: string, baseOffset: number, options: SegmentOptions): Promise<Segment> {
    const path = join(directory, segmentFileName(baseOffset, 'log'));
    const log = await open(path, 'wx+');
    const index = await open(join(directory, segmentFileName(baseOffset, 'index')), 'w+');
    return new Segment(baseOffset, path, log, index, options, { size: 0, nextOffset: baseOffset, offsets: [], positions: [] });
  }

  /**
   * Opens an existing segment. `recover` (the newest segment) rescans the whole file, truncates a torn
   * tail and rebuilds the index; older segments trust their index when it is consistent.
   */
  static async open(
    directory: string,
    baseOffset: number,
    options: SegmentOptions & { recover: boolean; nextBaseOffset?: number },
  ): Promise<{ segment: Segment; report: RecoveryReport }> {
    const path = join(directory, segmentFileName(baseOffset, 'log'));
    const indexPath = join(directory, segmentFileName(baseOffset, 'index'));
    const log = await open(path, 'r+');
    // Read-write, created if missing: a lost index is rebuilt below. (Not 'a+': positional writes must land where asked.)
    const index = await open(indexPath, constants.O_RDWR | constants.O_CREAT);
    try {
      const fileSize = (await stat(path)).size;
      const loaded = options.recover ? undefined : await loadIndex(index, fileSize, baseOffset);
      if (loaded && options.nextBaseOffset !== undefined) {
        const segment = new Segment(baseOffset, path, log, index, options, {
          size: fileSize,
          nextOffset: options.nextBaseOffset,
          ...loaded,
        });
        return { segment, report: { truncatedBytes: 0, indexRebuilt: false } };
      }
      const rebuilt = await rebuildIndex(log, path, baseOffset, fileSize, options.indexIntervalBytes);
      if (rebuilt.validEnd < fileSize) await log.truncate(rebuilt.validEnd);
      await index.truncate(0);
      await index.write(encodeIndex(rebuilt.offsets, rebuilt.positions, baseOffset), 0, undefined, 0);
      const segment = new Segment(baseOffset, path, log, index, options, {
        size: rebuilt.validEnd,
        nextOffset: rebuilt.nextOffset,
        offsets: rebuilt.offsets,
        positions: rebuilt.positions,
      });
      return { segment, report: { truncatedBytes: fileSize - rebuilt.validEnd, indexRebuilt: true } };
    } catch (error) {
      await log.close();
      await index.close();
      throw error;
    }
  }

  /** Writes batches as frames at the end of the file in one call. Not visible to readers until `publish`. */
  async append(batches: readonly EncodedBatch[]): Promise<void> {
    const buffers: Buffer[] = [];
    const newOffsets: number[] = [];
    const newPositions: number[] = [];
    let position = this.size;
    let bytesSinceIndexEntry = this.bytesSinceIndexEntry;
    for (const batch of batches) {
      if (position > 0 && bytesSinceIndexEntry >= this.options.indexIntervalBytes) {
        newOffsets.push(batch.baseOffset);
        newPositions.push(position);
        bytesSinceIndexEntry = 0;
      }
      buffers.push(frameHeader(batch.payload), batch.payload);
      const length = FRAME_HEADER_BYTES + batch.payload.length;
      position += length;
      bytesSinceIndexEntry += length;
    }
    await writeAll(this.log, buffers, this.size);
    // The index follows the log: after a crash it may lag (harmless, it is sparse) but never lead.
    if (newOffsets.length > 0 && this.index) {
      const entries = encodeIndex(newOffsets, newPositions, this.baseOffset);
      await this.index.write(entries, 0, entries.length, this.indexOffsets.length * INDEX_ENTRY_BYTES);
      this.indexOffsets.push(...newOffsets);
      this.indexPositions.push(...newPositions);
    }
    this.size = position;
    this.bytesSinceIndexEntry = bytesSinceIndexEntry;
    const last = batches.at(-1);
    if (last) this.nextOffset = last.baseOffset + last.count;
  }

  /** Undoes writes that were never acknowledged, after a failed append. */
  async truncate(size: number, nextOffset: number): Promise<void> {
    await this.log.truncate(size);
    while (this.indexPositions.length > 0 && this.indexPositions.at(-1)! >= size) {
      this.indexPositions.pop();
      this.indexOffsets.pop();
    }
    await this.index?.truncate(this.indexOffsets.length * INDEX_ENTRY_BYTES);
    this.size = size;
    this.visibleSize = Math.min(this.visibleSize, size);
    this.nextOffset = nextOffset;
    this.bytesSinceIndexEntry = size - (this.indexPositions.at(-1) ?? 0);
  }

  /** Makes written frames visible to readers. */
  publish(): void {
    this.visibleSize = this.size;
  }

  async sync(): Promise<void> {
    await this.log.datasync();
    await this.index?.datasync();
  }

  /**
   * Hands records at or above `fromOffset` and below `endOffset` to `take` until it returns false or
   * the visible end of the segment is reached. Returns false when `take` stopped the read.
   */
  async read(
    topic: string,
    partition: number,
    fromOffset: number,
    endOffset: number,
    chunkBytes: number,
    take: (record: LogRecord) => boolean,
  ): Promise<boolean> {
    let wantMore = true;
    await scanFrames(
      this.log,
      this.lookup(fromOffset),
      this.visibleSize,
      ({ payload }) => {
        const { baseOffset, count } = readBatchHeader(payload);
        if (baseOffset + count <= fromOffset) return true;
        decodeRecordBatch(payload, topic, partition, fromOffset, (record) => {
          if (record.offset >= endOffset) return (wantMore = false);
          return (wantMore = take(record));
        });
        // The next frame starts at or past the end: a follower must not look at it, since the owner may
        // be writing it still (a torn frame would read as corrupt).
        return wantMore && baseOffset + count < endOffset;
      },
      { onInvalid: 'throw', file: this.path, chunkBytes },
    );
    return wantMore;
  }

  /** The file position of the last indexed batch at or before `offset`. */
  private lookup(offset: number): number {
    let low = 0;
    let high = this.indexOffsets.length - 1;
    let position = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.indexOffsets[middle]! <= offset) {
        position = this.indexPositions[middle]!;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return position;
  }

  async close(): Promise<void> {
    await this.log.close();
    await this.index?.close();
  }

  /**
   * Opens a segment another owner is writing, for reading only: nothing is truncated or rebuilt, and
   * `refresh` picks up what the owner appended since. Readers bound their reads by an end offset the
   * owner acknowledged, so they never parse a frame still being written.
   */
  static async openForReading(directory: string, baseOffset: number, options: SegmentOptions): Promise<Segment> {
    const path = join(directory, segmentFileName(baseOffset, 'log'));
    const log = await open(path, 'r');
    const index = await open(join(directory, segmentFileName(baseOffset, 'index')), 'r').catch(() => undefined);
    const segment = new Segment(baseOffset, path, log, index, options, { size: 0, nextOffset: baseOffset, offsets: [], positions: [] });
    await segment.refresh();
    return segment;
  }

  /** For a read-only segment: takes in what the owner appended to the log and to the index. */
  async refresh(): Promise<void> {
    const size = (await this.log.stat()).size;
    if (this.index) {
      const known = this.indexOffsets.length * INDEX_ENTRY_BYTES;
      const indexSize = (await this.index.stat()).size;
      if (indexSize > known) {
        const tail = Buffer.alloc(indexSize - known);
        await this.index.read(tail, 0, tail.length, known);
        for (let at = 0; at + INDEX_ENTRY_BYTES <= tail.length; at += INDEX_ENTRY_BYTES) {
          const offset = this.baseOffset + tail.readUInt32LE(at);
          const position = tail.readUInt32LE(at + 4);
          // An entry the owner is still writing, or one past the log as seen: take it next time.
          if (position >= size || offset <= (this.indexOffsets.at(-1) ?? this.baseOffset)) break;
          this.indexOffsets.push(offset);
          this.indexPositions.push(position);
        }
      }
    }
    this.size = size;
    this.visibleSize = size;
  }
}

function encodeIndex(offsets: number[], positions: number[], baseOffset: number): Buffer {
  const buffer = Buffer.allocUnsafe(offsets.length * INDEX_ENTRY_BYTES);
  for (let i = 0; i < offsets.length; i++) {
    buffer.writeUInt32LE(offsets[i]! - baseOffset, i * INDEX_ENTRY_BYTES);
    buffer.writeUInt32LE(positions[i]!, i * INDEX_ENTRY_BYTES + 4);
  }
  return buffer;
}

/** Reads the index file; undefined when it cannot be trusted (entries out of order or past the log). */
async function loadIndex(
  index: FileHandle,
  logSize: number,
  baseOffset: number,
): Promise<{ offsets: number[]; positions: number[] } | undefined> {
  const raw = await index.readFile();
  const count = Math.floor(raw.length / INDEX_ENTRY_BYTES);
  const offsets: number[] = [];
  const positions: number[] = [];
  for (let i = 0; i < count; i++) {
    const offset = baseOffset + raw.readUInt32LE(i * INDEX_ENTRY_BYTES);
    const position = raw.readUInt32LE(i * INDEX_ENTRY_BYTES + 4);
    const previous = i === 0 ? { offset: baseOffset, position: 0 } : { offset: offsets[i - 1]!, position: positions[i - 1]! };
    if (offset <= previous.offset || position <= previous.position || position >= logSize) return undefined;
    offsets.push(offset);
    positions.push(position);
  }
  return { offsets, positions };
}

/** Scans every frame of a segment: the valid end, the next offset and a fresh index. */
async function rebuildIndex(
  log: FileHandle,
  path: string,
  baseOffset: number,
  fileSize: number,
  indexIntervalBytes: number,
): Promise<{ validEnd: number; nextOffset: number; offsets: number[]; positions: number[] }> {
  const offsets: number[] = [];
  const positions: number[] = [];
  let nextOffset = baseOffset;
  let bytesSinceIndexEntry = 0;
  let validEnd = 0;
  const scan = await scanFrames(
    log,
    0,
    fileSize,
    ({ position, length, payload }) => {
      const header = tryReadBatchHeader(payload);
      if (!header) return false;
      // A batch that does not continue the offsets is not ours to trust: stop as at a torn frame.
      if (header.baseOffset !== nextOffset || header.count === 0) return false;
      if (position > 0 && bytesSinceIndexEntry >= indexIntervalBytes) {
        offsets.push(header.baseOffset);
        positions.push(position);
        bytesSinceIndexEntry = 0;
      }
      bytesSinceIndexEntry += length;
      nextOffset = header.baseOffset + header.count;
      validEnd = position + length;
      return true;
    },
    { onInvalid: 'stop', file: path },
  );
  return { validEnd: Math.min(validEnd, scan.validEnd), nextOffset, offsets, positions };
}

function tryReadBatchHeader(payload: Buffer): { baseOffset: number; count: number } | undefined {
  try {
    return readBatchHeader(payload);
  } catch {
    return undefined;
  }
}
