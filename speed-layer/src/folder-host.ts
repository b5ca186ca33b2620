/**
 * Hosts the partition folders of one thread: the main thread's (reading through the event-log port), or
 * a worker thread's (reading through a follower of the log). The speed layer talks to either through
 * the FoldExecutor interface.
 */
import { UnknownTopicError, type Catalog, type LogFollower } from '@lambda/core';
import { PartitionFolder, type FoldResult, type RestoredSlice } from './partition-folder.js';
import type { SlicePolicy } from './slice-policy.js';

export interface FoldExecutor {
  restore(topic: string, partition: number, slices: RestoredSlice[], now: number): Promise<void>;
  /**
   * A micro-batch: reads on to `upTo` (an end offset the log acknowledged) from where the folder is,
   * then proposes the slice writes of everything folded since the last proposal.
   */
  fold(topic: string, partition: number, upTo: number, now: number): Promise<FoldResult>;
  /** The writes of the last fold's proposal landed: its ends take effect. */
  settle(topic: string, partition: number): Promise<void>;
  /**
   * Says the log has acknowledged records up to `endOffset`: the folder folds them in the background,
   * so a micro-batch finds most of its records already folded. Nothing waits for it.
   */
  hint(topic: string, partition: number, endOffset: number): void;
  close(): Promise<void>;
}

/** Visits consecutive records of a partition from an offset, below an acknowledged end: a follower's scan. */
export type RecordReader = LogFollower['scan'];

export interface FolderOptions {
  maxRecordsPerPartition: number;
  slicePolicy: SlicePolicy;
}

const MAX_READ_BYTES = 16 * 1024 * 1024;

/** A folder and its background folding: how far the log is acknowledged, and the fold under way. */
interface Hosted {
  folder: PartitionFolder;
  topic: string;
  partition: number;
  bound: number;
  /** Set while a micro-batch reads and proposes (or a restore runs). */
  paused: boolean;
  tailing: Promise<void> | undefined;
}

/**
 * Record bytes a step of reading asks for: under the embedded log's 1 MiB reads of a segment once frame
 * and record headers are added, so one step takes one read. Steps of 2,000 records (about 220 KB of page
 * views) used a fifth of each read and read the rest again on the next step: the demo views folded 450
 * thousand events/s with them, 530 thousand without (5 M events, two workers).
 */
export const STEP_BYTES = 768 * 1024;

/** What one background step folds before it lets messages in. */
const TAIL_STEP = { maxRecords: 100_000, maxBytes: STEP_BYTES };

export class FolderHost implements FoldExecutor {
  private readonly folders = new Map<string, Hosted>();
  private closed = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly read: RecordReader,
    private readonly options: FolderOptions,
  ) {}

  async restore(topic: string, partition: number, slices: RestoredSlice[], now: number): Promise<void> {
    const hosted = this.hosted(topic, partition);
    await this.pause(hosted);
    hosted.folder.restore(slices, now);
    // Folds ahead only as far as the next hint says: a pipeline narrowing down a failing record stops hinting.
    hosted.bound = 0;
    this.resume(hosted);
  }

  async fold(topic: string, partition: number, upTo: number, now: number): Promise<FoldResult> {
    const hosted = this.hosted(topic, partition);
    await this.pause(hosted);
    const { folder } = hosted;
    const from = folder.readFrom;
    // Each record is folded as it is read, never gathered: all it allocates dies young.
    if (from < upTo) await this.read(topic, partition, from, upTo, { maxRecords: this.options.maxRecordsPerPartition, maxBytes: MAX_READ_BYTES }, (record) => folder.foldRecord(record));
    const proposal = folder.propose(now);
    // Folds on while the main thread writes the proposal: the writes carry copies of the states, and
    // what is folded now goes into the next proposal. Waiting for the writes idled this thread for a
    // sixth of a backlog's time.
    this.resume(hosted);
    return proposal;
  }

  async settle(topic: string, partition: number): Promise<void> {
    this.hosted(topic, partition).folder.settle();
  }

  hint(topic: string, partition: number, endOffset: number): void {
    const hosted = this.hosted(topic, partition);
    hosted.bound = Math.max(hosted.bound, endOffset);
    // Never unpauses: a micro-batch holds its folder while it reads and proposes.
    this.kick(hosted);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.folders.values()].map((hosted) => this.pause(hosted)));
    this.folders.clear();
  }

  private async pause(hosted: Hosted): Promise<void> {
    hosted.paused = true;
    await hosted.tailing;
  }

  /** Ends a micro-batch's (or a restore's) hold on the folder. */
  private resume(hosted: Hosted): void {
    hosted.paused = false;
    this.kick(hosted);
  }

  /** Starts background folding if it is allowed and there is anything acknowledged to fold. */
  private kick(hosted: Hosted): void {
    if (hosted.paused || hosted.tailing || this.closed || !hosted.folder.ready || hosted.folder.readFrom >= hosted.bound) return;
    hosted.tailing = this.tail(hosted).finally(() => (hosted.tailing = undefined));
  }

  private async tail(hosted: Hosted): Promise<void> {
    const { folder, topic, partition } = hosted;
    try {
      while (!hosted.paused && folder.readFrom < hosted.bound) {
        await this.read(topic, partition, folder.readFrom, hosted.bound, TAIL_STEP, (record) => folder.foldRecord(record));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch {
      // Left to the next micro-batch, which reads the same records itself and reports the failure.
    }
  }

  private hosted(topic: string, partition: number): Hosted {
    const id = `${topic}/${partition}`;
    let hosted = this.folders.get(id);
    if (!hosted) {
      const source = this.catalog.sources.get(topic);
      if (!source) throw new UnknownTopicError(`No source topic "${topic}" in this thread's catalog`, { topic });
      const folder = new PartitionFolder(source, this.catalog.viewsOf(topic), partition, this.options.slicePolicy);
      this.folders.set(id, (hosted = { folder, topic, partition, bound: 0, paused: false, tailing: undefined }));
    }
    return hosted;
  }
}
