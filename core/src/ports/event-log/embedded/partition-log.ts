/**
 * One partition of a topic: an ordered list of segments, the newest of which takes appends.
 *
 * Appends are group-committed: requests that arrive while a write is in flight are written together in
 * one write call (one frame per request, so each stays all-or-none) and share one fsync. Offsets become
 * visible to readers only when their write is acknowledged.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OffsetOutOfRangeError, PlatformError } from '../../../errors/errors.js';
import type { Logger } from '../../../logging/logger.js';
import { SyncScheduler, type DurabilityOptions } from '../../../storage/fsync-policy.js';
import type { LogRecord, ReadResult } from '../event-log.js';
import { encodeRecordBatch, recordBytes, type BatchRecord } from './record-batch.js';
import { readChunkBytes, Segment, segmentFileName, type EncodedBatch } from './segment.js';

export interface PartitionLogOptions extends DurabilityOptions {
  segmentBytes: number;
  indexIntervalBytes: number;
  logger: Logger;
}

interface AppendRequest {
  records: readonly BatchRecord[];
  resolve: (baseOffset: number) => void;
  reject: (error: unknown) => void;
}

const DEFAULT_MAX_READ_BYTES = 1024 * 1024;

export class PartitionLog {
  /** One past the last acknowledged record: what readers may see. */
  endOffset: number;
  private readonly pending: AppendRequest[] = [];
  private draining: Promise<void> | undefined;
  private failure: PlatformError | undefined;
  private readonly syncScheduler: SyncScheduler;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly directory: string,
    private readonly segments: Segment[],
    private readonly options: PartitionLogOptions,
  ) {
    this.endOffset = this.active.nextOffset;
    this.syncScheduler = new SyncScheduler(options, () => this.active.sync(), (error) => {
      options.logger.error({ err: error, topic, partition }, 'background fsync failed');
    });
  }

  /** Opens (or creates) a partition directory, recovering the newest segment after a crash. */
  static async open(directory: string, topic: string, partition: number, options: PartitionLogOptions): Promise<PartitionLog> {
    await mkdir(directory, { recursive: true });
    const baseOffsets = (await readdir(directory))
      .filter((name) => /^\d{20}\.log$/.test(name))
      .map((name) => Number.parseInt(name.slice(0, 20), 10))
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    try {
      if (baseOffsets.length === 0) segments.push(await Segment.create(directory, 0, options));
      for (let i = 0; i < baseOffsets.length; i++) {
        const isNewest = i === baseOffsets.length - 1;
        const { segment, report } = await Segment.open(directory, baseOffsets[i]!, {
          indexIntervalBytes: options.indexIntervalBytes,
          recover: isNewest,
          nextBaseOffset: baseOffsets[i + 1],
        });
        segments.push(segment);
        if (report.truncatedBytes > 0) {
          options.logger.warn(
            { topic, partition, segment: segment.path, truncatedBytes: report.truncatedBytes },
            'truncated a torn tail left by a crash; every acknowledged record is before it',
          );
        }
      }
    } catch (error) {
      await Promise.all(segments.map((segment) => segment.close()));
      throw error;
    }
    return new PartitionLog(topic, partition, directory, segments, options);
  }

  get startOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  private get active(): Segment {
    return this.segments.at(-1)!;
  }

  /** Appends records as one batch; resolves with the batch's first offset once acknowledged. */
  append(records: readonly BatchRecord[]): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.draining ??= this.drain().finally(() => {
        this.draining = undefined;
      });
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, this.pending.length);
      await this.writeGroup(group);
    }
  }

  private async writeGroup(group: AppendRequest[]): Promise<void> {
    if (this.failure) {
      for (const request of group) request.reject(this.failure);
      return;
    }
    const segmentCountBefore = this.segments.length;
    const activeSizeBefore = this.active.size;
    const nextOffsetBefore = this.active.nextOffset;
    const baseOffsets: number[] = [];
    try {
      let nextOffset = this.active.nextOffset;
      let batches: EncodedBatch[] = [];
      let batchBytes = 0;
      for (const request of group) {
        const payload = encodeRecordBatch(nextOffset, request.records);
        const projected = this.active.size + batchBytes + payload.length;
        if (this.active.size + batchBytes > 0 && projected > this.options.segmentBytes) {
          await this.active.append(batches);
          await this.roll(nextOffset);
          batches = [];
          batchBytes = 0;
        }
        batches.push({ baseOffset: nextOffset, count: request.records.length, payload });
        batchBytes += payload.length;
        baseOffsets.push(nextOffset);
        nextOffset += request.records.length;
      }
      await this.active.append(batches);
      await this.syncScheduler.afterWrite();
    } catch (error) {
      const failure = new PlatformError(`Append to ${this.topic}/${this.partition} failed: ${(error as Error).message}`, {
        cause: error,
        retriable: true,
        context: { topic: this.topic, partition: this.partition },
      });
      await this.rollBack(segmentCountBefore, activeSizeBefore, nextOffsetBefore);
      for (const request of group) request.reject(failure);
      return;
    }
    for (let i = segmentCountBefore - 1; i < this.segments.length; i++) this.segments[i]!.publish();
    this.endOffset = this.active.nextOffset;
    group.forEach((request, i) => request.resolve(baseOffsets[i]!));
  }

  /** Closes the active segment (made durable unless fsync is `never`) and starts a new one. */
  private async roll(baseOffset: number): Promise<void> {
    if (this.options.fsync !== 'never') await this.active.sync();
    this.segments.push(await Segment.create(this.directory, baseOffset, this.options));
  }

  /** Removes what a failed group wrote, so the file ends at the last acknowledged frame again. */
  private async rollBack(segmentCount: number, activeSize: number, nextOffset: number): Promise<void> {
    try {
      while (this.segments.length > segmentCount) {
        const segment = this.segments.pop()!;
        await segment.close();
        await rm(segment.path, { force: true });
        await rm(join(this.directory, segmentFileName(segment.baseOffset, 'index')), { force: true });
      }
      await this.active.truncate(activeSize, nextOffset);
    } catch (error) {
      // The file may now hold unacknowledged bytes we cannot remove: refuse further appends until a
      // reopen, whose recovery scan settles the file.
      this.failure = new PlatformError(`${this.topic}/${this.partition} is unwritable until reopened`, {
        cause: error,
        retriable: false,
        context: { topic: this.topic, partition: this.partition },
      });
      this.options.logger.error({ err: error, topic: this.topic, partition: this.partition }, 'append rollback failed');
    }
  }

  async read(offset: number, options: { maxBytes?: number; maxRecords?: number } = {}): Promise<ReadResult> {
    const endOffset = this.endOffset;
    if (offset < this.startOffset || offset > endOffset) {
      throw new OffsetOutOfRangeError(
        `Offset ${offset} is out of range for ${this.topic}/${this.partition}: the log holds ${this.startOffset} to ${endOffset}`,
        { topic: this.topic, partition: this.partition, offset, startOffset: this.startOffset, endOffset },
      );
    }
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    const records: LogRecord[] = [];
    let bytes = 0;
    const take = (record: LogRecord): boolean => {
      const size = recordBytes(record);
      if (records.length > 0 && bytes + size > maxBytes) return false;
      records.push(record);
      bytes += size;
      return records.length < maxRecords && bytes < maxBytes;
    };
    const chunkBytes = readChunkBytes(maxBytes);
    let next = offset;
    for (let i = this.segmentIndexFor(offset); i < this.segments.length && next < endOffset; i++) {
      const more = await this.segments[i]!.read(this.topic, this.partition, next, endOffset, chunkBytes, take);
      next = records.at(-1) ? records.at(-1)!.offset + 1 : next;
      if (!more) break;
    }
    return { records, nextOffset: next, endOffset };
  }

  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** Waits for appends in flight, makes everything durable unless fsync is `never`, and closes files. */
  async close(): Promise<void> {
    await this.draining;
    this.syncScheduler.close();
    if (this.options.fsync !== 'never' && !this.failure) await this.active.sync();
    await Promise.all(this.segments.map((segment) => segment.close()));
  }
}
