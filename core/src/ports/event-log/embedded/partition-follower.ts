/**
 * Reads one partition of an embedded log that another owner (the process's main thread) writes: the
 * speed layer's worker threads read through followers, so decoding spreads over cores. A follower opens
 * segment files read-only, picks up new segments and appended frames on each read, and reads only below
 * an end offset the owner acknowledged.
 */
import { readdir } from 'node:fs/promises';
import type { LogRecord } from '../event-log.js';
import { recordBytes } from './record-batch.js';
import { readChunkBytes, Segment } from './segment.js';

export class PartitionFollower {
  private readonly segments: Segment[] = [];

  constructor(
    private readonly directory: string,
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Visits records from `offset` up to `endOffset` (exclusive), within the limits; at least one if any. */
  async scan(offset: number, endOffset: number, limits: { maxRecords: number; maxBytes: number }, visit: (record: LogRecord) => void): Promise<number> {
    if (offset >= endOffset) return 0;
    await this.refresh(offset);
    let count = 0;
    let bytes = 0;
    let next = offset;
    const take = (record: LogRecord): boolean => {
      const size = recordBytes(record);
      if (count > 0 && bytes + size > limits.maxBytes) return false;
      visit(record);
      count++;
      bytes += size;
      next = record.offset + 1;
      return count < limits.maxRecords && bytes < limits.maxBytes;
    };
    for (let i = this.segmentIndexFor(offset); i < this.segments.length && next < endOffset; i++) {
      const segment = this.segments[i]!;
      await segment.refresh();
      const more = await segment.read(this.topic, this.partition, next, endOffset, readChunkBytes(limits.maxBytes), take);
      if (!more) break;
    }
    return count;
  }

  /** Opens segments the owner created since the last read. */
  private async refresh(offset: number): Promise<void> {
    const known = new Set(this.segments.map((segment) => segment.baseOffset));
    const baseOffsets = (await readdir(this.directory))
      .filter((name) => /^\d{20}\.log$/.test(name))
      .map((name) => Number.parseInt(name.slice(0, 20), 10))
      .filter((base) => !known.has(base))
      .sort((a, b) => a - b);
    for (const base of baseOffsets) {
      this.segments.push(await Segment.openForReading(this.directory, base, { indexIntervalBytes: 4096 }));
    }
    this.segments.sort((a, b) => a.baseOffset - b.baseOffset);
    // Retention removed the segments before this one: close what no read will reach.
    while (this.segments.length > 1 && this.segments[1]!.baseOffset <= offset) await this.segments.shift()!.close();
  }

  private segmentIndexFor(offset: number): number {
    let index = 0;
    for (let i = 0; i < this.segments.length; i++) if (this.segments[i]!.baseOffset <= offset) index = i;
    return index;
  }

  async close(): Promise<void> {
    await Promise.all(this.segments.map((segment) => segment.close()));
    this.segments.length = 0;
  }
}
