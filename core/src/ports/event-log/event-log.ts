/**
 * The event-log port: an append-only, partitioned log of records with consumer-group offsets,
 * shaped like Kafka so the embedded log and the Kafka adapter are interchangeable.
 */

/** What a producer hands to the log. */
export interface LogMessage {
  /** Records with the same key land in the same partition (Kafka's default partitioner). */
  key?: Buffer | string | null;
  value: Buffer | string;
  /** Event time in ms since the epoch (Kafka's CreateTime). Defaults to the append time. */
  timestamp?: number;
  headers?: Record<string, Buffer | string>;
  /** Pins the partition instead of hashing the key. */
  partition?: number;
}

/**
 * A record as the log stores it: the bytes are the producer's, untouched. Treat the buffers and headers
 * as read-only: adapters may hand out views into a larger read buffer rather than copies.
 */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer>;
}

export interface AppendedRecord {
  partition: number;
  offset: number;
}

export interface ReadOptions {
  /**
   * Stop once the records read hold about this many bytes. At least one record is returned when one
   * exists, even a larger one, so a consumer always makes progress. Default 1 MiB.
   */
  maxBytes?: number;
  /** Stop after this many records. */
  maxRecords?: number;
}

export interface ReadResult {
  records: LogRecord[];
  /** The offset to read from next. */
  nextOffset: number;
  /** The partition's end offset when the read happened: one past its last acknowledged record. */
  endOffset: number;
}

export interface TopicDescription {
  name: string;
  partitions: number;
}

export interface CreateTopicOptions {
  partitions: number;
}

export interface EventLog {
  /** Creates a topic; fails with TopicExistsError if it exists. */
  createTopic(topic: string, options: CreateTopicOptions): Promise<void>;
  listTopics(): Promise<TopicDescription[]>;
  /** Fails with UnknownTopicError. */
  describeTopic(topic: string): Promise<TopicDescription>;

  /**
   * Appends messages and resolves, in input order, with where each landed, once they are acknowledged:
   * durable per the adapter's durability setting and visible to readers. Messages to one partition keep
   * their order and are appended all or none.
   */
  append(topic: string, messages: readonly LogMessage[]): Promise<AppendedRecord[]>;

  /** Reads a partition from `offset`; `offset` equal to the end offset returns no records. */
  read(topic: string, partition: number, offset: number, options?: ReadOptions): Promise<ReadResult>;

  /** Per partition (array index = partition): the offset of the first record still held. */
  startOffsets(topic: string): Promise<number[]>;
  /** Per partition (array index = partition): one past the last acknowledged record. */
  endOffsets(topic: string): Promise<number[]>;

  /** Stores a consumer group's next offsets to read (the Kafka convention) for some partitions. */
  commitOffsets(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void>;
  /** A consumer group's committed offsets; partitions it never committed are absent. */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>;

  /**
   * How another thread can open a read-only follower of this log (see `openLogFollower`), so reading
   * and decoding spread over cores. Adapters that cannot be followed leave it out.
   */
  followerDescriptor?(): LogFollowerDescriptor;

  close(): Promise<void>;
}

/** Serializable: what a worker thread needs to open its own follower of a log. */
export type LogFollowerDescriptor = { kind: 'embedded'; directory: string };

/** Reads a log that someone else owns and writes. */
export interface LogFollower {
  /**
   * Hands each record of a partition from `offset` and below `endOffset` (an end offset the log's owner
   * acknowledged) to `visit`, in order: at least one if there is any, then up to the limits. Records are
   * visited as they are decoded, never gathered, so a reader that keeps none of them makes little
   * garbage. Resolves with how many were visited.
   */
  scan(
    topic: string,
    partition: number,
    offset: number,
    endOffset: number,
    limits: { maxRecords: number; maxBytes: number },
    visit: (record: LogRecord) => void,
  ): Promise<number>;
  close(): Promise<void>;
}
