/**
 * The embedded event log: Kafka's model (topics, partitions, offsets, consumer-group offsets) in files,
 * for one process and no server.
 *
 *   <directory>/
 *     .lock                              the owning process
 *     consumer-offsets.journal           committed group offsets
 *     topics/<topic>/topic.json          partition count
 *     topics/<topic>/<partition>/<base offset>.log|.index
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ClosedError,
  InvalidArgumentError,
  TopicExistsError,
  UnknownTopicError,
} from '../../../errors/errors.js';
import { silentLogger, type Logger } from '../../../logging/logger.js';
import type { Metrics } from '../../../metrics/metrics.js';
import { eventLogMetrics } from '../log-metrics.js';
import { syncDirectory, writeFileAtomic } from '../../../storage/atomic-file.js';
import { lockDirectory } from '../../../storage/directory-lock.js';
import { DEFAULT_DURABILITY, type FsyncPolicy } from '../../../storage/fsync-policy.js';
import type {
  AppendedRecord,
  CreateTopicOptions,
  EventLog,
  LogFollowerDescriptor,
  LogMessage,
  ReadOptions,
  ReadResult,
  TopicDescription,
} from '../event-log.js';
import { partitionForKey } from '../partitioner.js';
import {
  validateGroupName,
  validateOffset,
  validatePartition,
  validatePartitionCount,
  validateReadLimit,
  validateMessage,
  validateTopicName,
} from '../validation.js';
import { ConsumerOffsets } from './consumer-offsets.js';
import { PartitionLog, type PartitionLogOptions } from './partition-log.js';
import type { BatchRecord } from './record-batch.js';

export interface EmbeddedEventLogOptions {
  /** Directory holding the log; created if missing. One process at a time may open it. */
  directory: string;
  /** When appends reach the disk; see FsyncPolicy. Default `always`. */
  fsync?: FsyncPolicy;
  /** Period of the background fsync under the `interval` policy. Default 1000 ms. */
  fsyncIntervalMs?: number;
  /** A segment file is closed and a new one started past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Bytes of records between two offset-index entries. Default 4 KiB. */
  indexIntervalBytes?: number;
  /** Largest total size of one append's records for one partition, which is written as one frame. Default 32 MiB. */
  maxBatchBytes?: number;
  logger?: Logger;
  metrics?: Metrics;
}

interface Topic {
  name: string;
  partitions: PartitionLog[];
  /** Round-robin cursor for messages without a key. */
  nextPartition: number;
}

const TOPIC_FILE = 'topic.json';

export class EmbeddedEventLog implements EventLog {
  private closed = false;
  /** Topics being created right now. */
  private readonly creatingTopics = new Set<string>();
  private readonly metrics;

  private constructor(
    private readonly directory: string,
    private readonly topics: Map<string, Topic>,
    private readonly consumerOffsets: ConsumerOffsets,
    private readonly partitionOptions: PartitionLogOptions,
    private readonly maxBatchBytes: number,
    private readonly releaseLock: () => Promise<void>,
    private readonly logger: Logger,
    metrics: Metrics | undefined,
  ) {
    this.metrics = metrics && eventLogMetrics(metrics);
  }

  /** Opens the log at `options.directory`, recovering from a crash if the last process died mid-write. */
  static async open(options: EmbeddedEventLogOptions): Promise<EmbeddedEventLog> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'event-log' });
    const directory = options.directory;
    await mkdir(join(directory, 'topics'), { recursive: true });
    const releaseLock = await lockDirectory(directory, 'the embedded event log');
    const partitionOptions: PartitionLogOptions = {
      fsync: options.fsync ?? DEFAULT_DURABILITY.fsync,
      fsyncIntervalMs: options.fsyncIntervalMs ?? DEFAULT_DURABILITY.fsyncIntervalMs,
      segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
      indexIntervalBytes: options.indexIntervalBytes ?? 4096,
      logger,
    };
    const topics = new Map<string, Topic>();
    let consumerOffsets: ConsumerOffsets | undefined;
    try {
      for (const name of await readdir(join(directory, 'topics'))) {
        const topicDirectory = join(directory, 'topics', name);
        // A topic whose creation a crash interrupted never existed: it was not yet renamed into place.
        if (name.startsWith('.creating-')) {
          await rm(topicDirectory, { recursive: true, force: true });
          continue;
        }
        const { partitions } = JSON.parse(await readFile(join(topicDirectory, TOPIC_FILE), 'utf8')) as { partitions: number };
        const logs: PartitionLog[] = [];
        topics.set(name, { name, partitions: logs, nextPartition: 0 });
        for (let partition = 0; partition < partitions; partition++) {
          logs.push(await PartitionLog.open(join(topicDirectory, String(partition)), name, partition, partitionOptions));
        }
      }
      consumerOffsets = await ConsumerOffsets.open(join(directory, 'consumer-offsets.journal'), {
        ...partitionOptions,
        logger,
      });
    } catch (error) {
      await Promise.all([...topics.values()].flatMap((topic) => topic.partitions.map((log) => log.close())));
      await releaseLock();
      throw error;
    }
    logger.debug({ directory, topics: topics.size }, 'opened');
    return new EmbeddedEventLog(
      directory,
      topics,
      consumerOffsets,
      partitionOptions,
      options.maxBatchBytes ?? 32 * 1024 * 1024,
      releaseLock,
      logger,
      options.metrics,
    );
  }

  async createTopic(topic: string, options: CreateTopicOptions): Promise<void> {
    this.assertOpen();
    validateTopicName(topic);
    const partitions = validatePartitionCount(options?.partitions, topic);
    // Reserved at once, so a second create of the same name while this one is on disk fails as Kafka's would.
    if (this.topics.has(topic) || this.creatingTopics.has(topic)) throw new TopicExistsError(`Topic "${topic}" already exists`, { topic });
    this.creatingTopics.add(topic);
    try {
      // Built aside and renamed into place, so a crash never leaves a half-created topic.
      const topicsDirectory = join(this.directory, 'topics');
      const staging = join(topicsDirectory, `.creating-${topic}-${randomBytes(4).toString('hex')}`);
      await mkdir(staging);
      await writeFileAtomic(join(staging, TOPIC_FILE), JSON.stringify({ partitions }));
      await rename(staging, join(topicsDirectory, topic));
      await syncDirectory(topicsDirectory);
      const logs: PartitionLog[] = [];
      for (let partition = 0; partition < partitions; partition++) {
        logs.push(await PartitionLog.open(join(topicsDirectory, topic, String(partition)), topic, partition, this.partitionOptions));
      }
      this.topics.set(topic, { name: topic, partitions: logs, nextPartition: 0 });
    } finally {
      this.creatingTopics.delete(topic);
    }
    this.logger.info({ topic, partitions }, 'created topic');
  }

  async listTopics(): Promise<TopicDescription[]> {
    this.assertOpen();
    return [...this.topics.values()]
      .map((topic) => ({ name: topic.name, partitions: topic.partitions.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeTopic(topic: string): Promise<TopicDescription> {
    const found = this.topic(topic);
    return { name: found.name, partitions: found.partitions.length };
  }

  async append(topic: string, messages: readonly LogMessage[]): Promise<AppendedRecord[]> {
    const found = this.topic(topic);
    if (!Array.isArray(messages)) throw new InvalidArgumentError('append takes an array of messages', { topic });
    const now = Date.now();
    // Validate and place every message before writing any, so a bad one changes nothing.
    const byPartition = new Map<number, { indexes: number[]; records: BatchRecord[]; bytes: number }>();
    messages.forEach((message, index) => {
      const record: BatchRecord = validateMessage(message, index, topic, now);
      const partition = this.choosePartition(found, message, record.key, index);
      const group = byPartition.get(partition) ?? { indexes: [], records: [], bytes: 0 };
      group.indexes.push(index);
      group.records.push(record);
      group.bytes += record.value.length + (record.key?.length ?? 0);
      byPartition.set(partition, group);
    });
    for (const [partition, group] of byPartition) {
      if (group.bytes > this.maxBatchBytes) {
        throw new InvalidArgumentError(
          `Append of ${group.bytes} bytes to ${topic}/${partition} exceeds the ${this.maxBatchBytes}-byte limit of one batch; split it`,
          { topic, partition, bytes: group.bytes, maxBatchBytes: this.maxBatchBytes },
        );
      }
    }
    const started = performance.now();
    const results: AppendedRecord[] = new Array<AppendedRecord>(messages.length);
    await Promise.all(
      [...byPartition].map(async ([partition, group]) => {
        const baseOffset = await found.partitions[partition]!.append(group.records);
        group.indexes.forEach((index, i) => (results[index] = { partition, offset: baseOffset + i }));
      }),
    );
    this.metrics?.appendedRecords.inc({ topic }, messages.length);
    this.metrics?.appendDuration.observe((performance.now() - started) / 1000);
    return results;
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<ReadResult> {
    const found = this.topic(topic);
    validatePartition(partition, topic, found.partitions.length);
    validateOffset(offset, topic, partition);
    validateReadLimit('maxBytes', options.maxBytes);
    validateReadLimit('maxRecords', options.maxRecords);
    return found.partitions[partition]!.read(offset, options);
  }

  async startOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((log) => log.startOffset);
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((log) => log.endOffset);
  }

  async commitOffsets(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    validateGroupName(group);
    const found = this.topic(topic);
    if (!(offsets instanceof Map)) throw new InvalidArgumentError('offsets must be a Map of partition to offset', { group, topic });
    for (const [partition, offset] of offsets) {
      validatePartition(partition, topic, found.partitions.length);
      validateOffset(offset, topic, partition);
    }
    await this.consumerOffsets.commit(group, topic, offsets);
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    validateGroupName(group);
    this.topic(topic);
    return this.consumerOffsets.get(group, topic);
  }

  followerDescriptor(): LogFollowerDescriptor {
    return { kind: 'embedded', directory: this.directory };
  }

  /** Finishes appends in flight, makes everything durable (unless fsync is `never`) and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const partitions = [...this.topics.values()].flatMap((topic) => topic.partitions);
    await Promise.all(partitions.map((log) => log.close()));
    await this.consumerOffsets.close();
    await this.releaseLock();
    this.logger.debug({ directory: this.directory }, 'closed');
  }

  private topic(name: string): Topic {
    this.assertOpen();
    const found = this.topics.get(validateTopicName(name));
    if (!found) throw new UnknownTopicError(`Unknown topic "${name}"`, { topic: name });
    return found;
  }

  private choosePartition(topic: Topic, message: LogMessage, key: Buffer | null, index: number): number {
    if (message.partition !== undefined) {
      try {
        return validatePartition(message.partition, topic.name, topic.partitions.length);
      } catch (error) {
        throw new InvalidArgumentError(`Message ${index}: ${(error as Error).message}`, { topic: topic.name, index });
      }
    }
    if (key !== null) return partitionForKey(key, topic.partitions.length);
    const partition = topic.nextPartition;
    topic.nextPartition = (partition + 1) % topic.partitions.length;
    return partition;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The embedded event log');
  }
}
