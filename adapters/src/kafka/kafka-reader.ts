/**
 * Random-access reads of one partition at a time: a single Fetch request to the partition's leader per
 * `read`, through kafkajs's internal cluster (see kafka-internal-cluster.ts).
 *
 * Why not a consumer: kafkajs consumers have no `assign()`, so a pooled consumer would have to join a
 * consumer group (seconds of rebalancing, heartbeats, partitions shared out with other instances) and
 * emulate random access with `seek` + `pause`/`resume` around `eachBatch`, which races with its
 * background fetch loop. A direct Fetch is stateless, exact about where it starts, costs one round trip
 * per page, and lets the speed layer's sequential reads ask for as many bytes as they want.
 *
 * A partition's start and end offsets come the same way (ListOffsets to its leader), read committed as
 * a Fetch is, so `endOffsets` and a read agree on where a partition ends.
 */
import kafkajs from 'kafkajs';
import { PlatformError, UnknownTopicError, isRetriable, retry, type Logger, type LogRecord, type ReadResult } from '@lambda/core';
import { mapKafkaErrors, type KafkaErrorContext } from './kafka-errors.js';
import { READ_COMMITTED, type InternalCluster, type InternalFetchPartition, type InternalRecord } from './kafka-internal-cluster.js';

export interface KafkaReaderOptions {
  cluster: InternalCluster;
  logger: Logger;
}

export interface PartitionOffsets {
  partition: number;
  /** The first offset still held. */
  low: number;
  /** The next offset to be written (read committed: the last stable offset). */
  high: number;
}

export interface FetchLimits {
  maxBytes: number;
  maxRecords: number;
}

/** Errors after which the leader may have moved: refresh metadata, then try again. */
const STALE_LEADER = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'REPLICA_NOT_AVAILABLE']);
/** Bytes a record costs on the wire beyond its key, value and headers (varint lengths, deltas), and a batch's header. */
const RECORD_OVERHEAD_BYTES = 24;
const BATCH_OVERHEAD_BYTES = 1024;
/** The record size assumed for a topic before any of its records has been read. */
const INITIAL_RECORD_BYTES = 1024;
/** A Fetch that returns only skipped batches (control records, or records before the offset) is repeated past them, at most this often. */
const MAX_SKIPS = 16;

export class KafkaReader {
  /** Average size of a record read, by cluster topic, to size Fetches that want only `maxRecords` records. */
  private readonly recordBytes = new Map<string, number>();

  constructor(private readonly options: KafkaReaderOptions) {}

  /**
   * Reads `clusterTopic`'s partition from `offset`; `topic` is the name records carry (the cluster's
   * name without the adapter's namespace).
   */
  async read(clusterTopic: string, topic: string, partition: number, offset: number, limits: FetchLimits): Promise<ReadResult> {
    let from = offset;
    const fetchBytes = this.fetchBytes(clusterTopic, limits);
    for (let skips = 0; ; skips++) {
      const fetched = await this.fetchWithRetry(clusterTopic, topic, partition, from, fetchBytes);
      const endOffset = endOffsetOf(fetched);
      const records: LogRecord[] = [];
      let bytes = 0;
      let lastSeen = from - 1;
      for (const message of fetched.messages) {
        const messageOffset = Number(message.offset);
        lastSeen = Math.max(lastSeen, messageOffset);
        // A Fetch returns whole batches, so the first may start before `offset`; control records are the broker's.
        if (messageOffset < from || message.isControlRecord || messageOffset >= endOffset) continue;
        const record = toLogRecord(topic, partition, message);
        const size = sizeOf(record);
        if (records.length > 0 && (records.length >= limits.maxRecords || bytes + size > limits.maxBytes)) break;
        records.push(record);
        bytes += size;
      }
      if (records.length > 0) {
        this.recordBytes.set(clusterTopic, Math.ceil(bytes / records.length));
        return { records, nextOffset: records[records.length - 1]!.offset + 1, endOffset };
      }
      if (lastSeen < from || lastSeen + 1 >= endOffset || skips >= MAX_SKIPS) {
        return { records, nextOffset: Math.min(Math.max(from, lastSeen + 1), Math.max(from, endOffset)), endOffset };
      }
      from = lastSeen + 1;
    }
  }

  /**
   * How many bytes to fetch: `maxBytes`, or less when `maxRecords` records of the topic's usual size fit
   * in less. Kafka's Fetch has no record limit, so a page of 2000 small records read with a 16 MiB
   * `maxBytes` (the speed layer's sequential reads) would otherwise transfer and decode 16 MiB each time.
   * Kafka returns the first batch whole even when it is larger, so a low estimate costs a shorter page,
   * never a stalled read.
   */
  private fetchBytes(clusterTopic: string, limits: FetchLimits): number {
    if (limits.maxRecords >= Number.MAX_SAFE_INTEGER) return limits.maxBytes;
    const perRecord = (this.recordBytes.get(clusterTopic) ?? INITIAL_RECORD_BYTES) + RECORD_OVERHEAD_BYTES;
    const wanted = Math.ceil(limits.maxRecords * perRecord * 1.25) + BATCH_OVERHEAD_BYTES;
    return Math.min(limits.maxBytes, wanted);
  }

  /**
   * The first and next offset of every partition the metadata knows. After a leader moves, the cached
   * metadata is stale: the request is retried with fresh metadata.
   */
  offsets(clusterTopic: string, topic: string): Promise<PartitionOffsets[]> {
    return this.withLeaderRetry({ operation: 'offset listing', topic }, () => this.listOffsets(clusterTopic));
  }

  /**
   * Resolves once each of the `partitions` partitions of a topic just created has a leader that answers.
   * The creation is acknowledged before the brokers have caught up with it: a KRaft broker answers
   * UNKNOWN_TOPIC_OR_PARTITION until the controller's record of the topic reaches it, then
   * NOT_LEADER_FOR_PARTITION until it has taken up the leadership the metadata already names. Those
   * answers are expected here, so they are retried without a warning.
   */
  async waitForLeaders(clusterTopic: string, topic: string, partitions: number): Promise<void> {
    const { cluster } = this.options;
    await retry(
      () =>
        mapKafkaErrors({ operation: 'topic creation', topic }, async () => {
          const known = (await this.refreshingStaleLeaders(() => this.listOffsets(clusterTopic))).length;
          if (known < partitions) {
            await cluster.refreshMetadata();
            throw new PlatformError(`Topic "${topic}" was created, but the metadata knows only ${known} of its ${partitions} partitions so far`, {
              retriable: true,
              context: { topic, partitions, known },
            });
          }
        }),
      { attempts: 30, initialDelayMs: 20, maxDelayMs: 500, isRetriable: (error) => error instanceof UnknownTopicError || isRetriable(error) },
    );
  }

  private async listOffsets(clusterTopic: string): Promise<PartitionOffsets[]> {
    const { cluster } = this.options;
    await cluster.addTargetTopic(clusterTopic);
    const partitions = cluster.findTopicPartitionMetadata(clusterTopic).map(({ partitionId }) => partitionId);
    const listed = (fromBeginning: boolean) =>
      cluster.fetchTopicsOffset([{ topic: clusterTopic, fromBeginning, partitions: partitions.map((partition) => ({ partition })) }]);
    const [low, high] = await Promise.all([listed(true), listed(false)]);
    const offsetOf = (answer: Awaited<ReturnType<typeof listed>>, partition: number) =>
      Number(answer.find((t) => t.topic === clusterTopic)?.partitions.find((p) => p.partition === partition)?.offset ?? 0);
    return partitions.map((partition) => ({ partition, low: offsetOf(low, partition), high: offsetOf(high, partition) }));
  }

  private fetchWithRetry(clusterTopic: string, topic: string, partition: number, offset: number, maxBytes: number): Promise<InternalFetchPartition> {
    return this.withLeaderRetry({ operation: 'fetch', topic, partition, offset }, () => this.fetch(clusterTopic, partition, offset, maxBytes));
  }

  /** Runs `call` against partition leaders, again (with a warning) when a leader was not, or no longer, where it was sent. */
  private withLeaderRetry<T>(context: KafkaErrorContext, call: () => Promise<T>): Promise<T> {
    const where = context.partition === undefined ? context.topic : `${context.topic}/${context.partition}`;
    return retry(() => mapKafkaErrors(context, () => this.refreshingStaleLeaders(call)), {
      attempts: 5,
      initialDelayMs: 50,
      maxDelayMs: 1000,
      logger: this.options.logger,
      operation: `${context.operation} ${where}`,
    });
  }

  /** Runs `call`; when it failed because a leader was not where the metadata said, refreshes the metadata before rethrowing. */
  private async refreshingStaleLeaders<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const { type, name } = error as { type?: string; name?: string };
      if ((type !== undefined && STALE_LEADER.has(type)) || name === 'KafkaJSBrokerNotFound') await this.options.cluster.refreshMetadata();
      throw error;
    }
  }

  private async fetch(clusterTopic: string, partition: number, offset: number, maxBytes: number): Promise<InternalFetchPartition> {
    const { cluster } = this.options;
    await cluster.addTargetTopic(clusterTopic);
    const leaders = Object.entries(cluster.findLeaderForPartitions(clusterTopic, [partition]));
    const nodeId = leaders.find(([, partitions]) => partitions.includes(partition))?.[0];
    if (nodeId === undefined) {
      await cluster.refreshMetadata();
      // kafkajs's own error, so that the mapping to platform errors (kafka-errors.ts) treats it as kafkajs's.
      throw Object.assign(new kafkajs.KafkaJSError(`No leader known for ${clusterTopic}/${partition}`, { retriable: true }), { type: 'LEADER_NOT_AVAILABLE' });
    }
    const broker = await cluster.findBroker({ nodeId });
    const response = await broker.fetch({
      replicaId: -1,
      isolationLevel: READ_COMMITTED,
      // Answer at once: the port's read never waits for records that are not there yet.
      maxWaitTime: 0,
      minBytes: 0,
      maxBytes,
      topics: [{ topic: clusterTopic, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
    });
    const found = response.responses.find((r) => r.topicName === clusterTopic)?.partitions.find((p) => p.partition === partition);
    if (!found) throw new kafkajs.KafkaJSError(`The fetch response holds no ${clusterTopic}/${partition}`, { retriable: true });
    return found;
  }
}

/** What a read-committed reader may see: the last stable offset when the broker reports one, else the high watermark. */
function endOffsetOf(fetched: InternalFetchPartition): number {
  const highWatermark = Number(fetched.highWatermark);
  const lastStable = fetched.lastStableOffset === undefined ? -1 : Number(fetched.lastStableOffset);
  return lastStable >= 0 && lastStable <= highWatermark ? lastStable : highWatermark;
}

function toLogRecord(topic: string, partition: number, message: InternalRecord): LogRecord {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    // Kafka allows a header name twice; the port has one value per name: the last one wins.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    headers[name] = last ?? Buffer.alloc(0);
  }
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    key: message.key ?? null,
    value: message.value ?? Buffer.alloc(0),
    headers,
  };
}

function sizeOf(record: LogRecord): number {
  let bytes = record.value.length + (record.key?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers)) bytes += name.length + value.length;
  return bytes;
}
