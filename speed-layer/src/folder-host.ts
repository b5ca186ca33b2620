/**
 * Hosts the partition folders of one thread: the main thread's (reading through the event-log port), or
 * a worker thread's (reading through a follower of the log). The speed layer talks to either through
 * the FoldExecutor interface.
 */
import type { Catalog, LogRecord } from '@lambda/common';
import { PartitionFolder, type FoldResult, type RestoredSlice } from './partition-folder.js';
import type { SlicePolicy } from './slice-policy.js';

export interface FoldExecutor {
  restore(topic: string, partition: number, slices: RestoredSlice[], now: number): Promise<void>;
  /** Reads up to `upTo` (an end offset the log acknowledged) from where the folder is, and folds. */
  fold(topic: string, partition: number, upTo: number, now: number): Promise<FoldResult>;
  settle(topic: string, partition: number, now: number): Promise<void>;
  close(): Promise<void>;
}

/** Visits consecutive records of a partition from `from`, below `upTo`, within the limits. */
export type RecordReader = (
  topic: string,
  partition: number,
  from: number,
  upTo: number,
  limits: { maxRecords: number; maxBytes: number },
  visit: (record: LogRecord) => void,
) => Promise<number>;

export interface FolderOptions {
  maxRecordsPerPartition: number;
  slicePolicy: SlicePolicy;
}

const MAX_READ_BYTES = 16 * 1024 * 1024;

export class FolderHost implements FoldExecutor {
  private readonly folders = new Map<string, PartitionFolder>();

  constructor(
    private readonly catalog: Catalog,
    private readonly read: RecordReader,
    private readonly options: FolderOptions,
  ) {}

  async restore(topic: string, partition: number, slices: RestoredSlice[], now: number): Promise<void> {
    this.folder(topic, partition).restore(slices, now);
  }

  async fold(topic: string, partition: number, upTo: number, now: number): Promise<FoldResult> {
    const folder = this.folder(topic, partition);
    const from = folder.readFrom;
    // Each record is folded as it is read, never gathered: all it allocates dies young.
    if (from < upTo) await this.read(topic, partition, from, upTo, { maxRecords: this.options.maxRecordsPerPartition, maxBytes: MAX_READ_BYTES }, (record) => folder.foldRecord(record));
    return folder.propose(now);
  }

  async settle(topic: string, partition: number, now: number): Promise<void> {
    this.folder(topic, partition).settle(now);
  }

  async close(): Promise<void> {
    this.folders.clear();
  }

  private folder(topic: string, partition: number): PartitionFolder {
    const id = `${topic}/${partition}`;
    let folder = this.folders.get(id);
    if (!folder) {
      const source = this.catalog.sources.get(topic);
      if (!source) throw new Error(`No source topic "${topic}" in this thread's catalog`);
      this.folders.set(id, (folder = new PartitionFolder(source, this.catalog.viewsOf(topic), partition, this.options.slicePolicy)));
    }
    return folder;
  }
}
