/**
 * An event-log topic as a stream source, through the EventLog port (so the embedded log and Kafka both
 * work). The position is the next offset to read in each partition, `{ "0": 42, "1": 17 }`. A restart
 * resumes from a checkpointed position; without one, from the consumer group's committed offsets when a
 * group is given, else from the start (or the end) of each partition. Committing a batch stores its
 * offsets for the group, so tools that watch consumer lag see the stream's progress.
 */
import { InvalidArgumentError, type EventLog, type LogRecord, isJsonObject, type JsonValue } from '@lambda/core';
import type { SourceBatch, StreamSource } from './stream-source.js';

export interface LogTopicSourceOptions {
  eventLog: EventLog;
  topic: string;
  /** Consumer group whose offsets are committed after each batch (and read at a start without checkpoint). */
  group?: string;
  /** Where a partition with neither a checkpointed nor a committed offset starts. Default `earliest`. */
  startingOffsets?: 'earliest' | 'latest';
  /** Most records taken from one partition by one poll. Default 10,000. */
  maxRecordsPerPartition?: number;
  /** About how many bytes one partition's read may hold. Default 4 MiB. */
  maxBytesPerPartition?: number;
}

/** Per partition (as a string key): the next offset to read. */
export type LogTopicPosition = Record<string, number>;

export class LogTopicSource implements StreamSource<LogRecord> {
  readonly description: string;
  private next = new Map<number, number>();

  constructor(private readonly options: LogTopicSourceOptions) {
    this.description = `topic:${options.topic}`;
  }

  async start(from?: JsonValue): Promise<void> {
    const { eventLog, topic, group } = this.options;
    const { partitions } = await eventLog.describeTopic(topic);
    const checkpointed = from === undefined || from === null ? new Map<number, number>() : parsePosition(from);
    const committed = group === undefined ? new Map<number, number>() : await eventLog.committedOffsets(group, topic);
    const fallback = this.options.startingOffsets === 'latest' ? await eventLog.endOffsets(topic) : await eventLog.startOffsets(topic);
    this.next = new Map();
    for (let partition = 0; partition < partitions; partition++) {
      this.next.set(partition, checkpointed.get(partition) ?? committed.get(partition) ?? fallback[partition] ?? 0);
    }
  }

  async poll(): Promise<SourceBatch<LogRecord>> {
    const { eventLog, topic } = this.options;
    // A topic may gain partitions while the stream runs (Kafka allows it): read new ones from their start.
    const ends = await eventLog.endOffsets(topic);
    const records: LogRecord[] = [];
    for (let partition = 0; partition < ends.length; partition++) {
      const offset = this.next.get(partition) ?? 0;
      if (offset >= ends[partition]!) {
        this.next.set(partition, offset);
        continue;
      }
      const read = await eventLog.read(topic, partition, offset, {
        maxRecords: this.options.maxRecordsPerPartition ?? 10_000,
        maxBytes: this.options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      });
      records.push(...read.records);
      this.next.set(partition, read.nextOffset);
    }
    return { records, position: this.position() };
  }

  async commit(position: JsonValue): Promise<void> {
    if (this.options.group === undefined) return;
    await this.options.eventLog.commitOffsets(this.options.group, this.options.topic, parsePosition(position));
  }

  async stop(): Promise<void> {}

  private position(): LogTopicPosition {
    const position: LogTopicPosition = {};
    for (const [partition, offset] of [...this.next].sort((a, b) => a[0] - b[0])) position[String(partition)] = offset;
    return position;
  }
}

function parsePosition(position: JsonValue): Map<number, number> {
  if (!isJsonObject(position)) throw new InvalidArgumentError(`A topic position must map partitions to offsets, got ${JSON.stringify(position)}`, { position });
  const offsets = new Map<number, number>();
  for (const [partition, offset] of Object.entries(position)) {
    const number = Number(partition);
    if (!Number.isSafeInteger(number) || number < 0 || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError(`Invalid topic position entry ${JSON.stringify(partition)}: ${JSON.stringify(offset)}`, { position });
    }
    offsets.set(number, offset);
  }
  return offsets;
}
