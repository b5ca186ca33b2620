/**
 * The event log on Kafka, through kafkajs: topics made by the admin client, appends by an idempotent
 * producer acknowledged by all in-sync replicas, random-access reads by direct Fetch requests, and
 * consumer-group offsets committed by hand.
 *
 * Partitions are chosen here, not by kafkajs, with the platform's partitioner (Kafka's default murmur2),
 * so a key lands in the same partition as on the embedded log and on any Java producer.
 */
import kafkajs, { type Admin, type ISocketFactory, type Kafka, type Message, type Producer, type SASLOptions } from 'kafkajs';
import {
  ClosedError,
  InvalidArgumentError,
  InvalidTopicError,
  TopicExistsError,
  UnknownTopicError,
  silentLogger,
  type Logger,
  type Metrics,
  type AppendedRecord,
  type CreateTopicOptions,
  type EventLog,
  type LogMessage,
  type ReadOptions,
  type ReadResult,
  type TopicDescription,
  partitionForKey,
  validateGroupName,
  validateOffset,
  validatePartition,
  validatePartitionCount,
  validateMessage,
  validateReadLimit,
  validateTopicName,
  eventLogMetrics,
} from '@lambda/core';
import { mapKafkaErrors } from './kafka-errors.js';
import { KafkaGroupOffsets } from './kafka-group-offsets.js';
import { createInternalCluster, type InternalCluster } from './kafka-internal-cluster.js';
import { kafkaLogCreator, kafkaLogLevel } from './kafka-log-creator.js';
import { KafkaReader } from './kafka-reader.js';

export interface KafkaEventLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** The client id brokers see in their logs and quotas. Default `lambda-platform`. */
  clientId?: string;
  /** Connect with TLS. Default false. */
  ssl?: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Replication factor of topics `createTopic` makes. Default 1. */
  replicationFactor?: number;
  /** Time to establish a broker connection. Default 3000 ms. */
  connectionTimeoutMs?: number;
  /** Time to wait for a broker's answer. Default 30 s. */
  requestTimeoutMs?: number;
  /**
   * Prefix of every topic and consumer group this log touches on the cluster, e.g. `staging.`: the
   * platform sees names without it and lists only topics carrying it, so several deployments (or test
   * runs) share one cluster without seeing each other. Default none.
   */
  namespace?: string;
  /**
   * How often kafkajs retries a failed request (with exponential backoff from 300 ms) before the
   * adapter reports the failure. Default kafkajs's 5, about 10 s in all.
   */
  retries?: number;
  /** How broker connections are opened (kafkajs's `socketFactory`), for proxies and tests. Default: TCP, or TLS per `ssl`. */
  socketFactory?: ISocketFactory;
  /** Largest page one `read` fetches. Default 1 MiB, as the port's default `maxBytes`. */
  defaultReadBytes?: number;
  logger?: Logger;
  metrics?: Metrics;
}

interface Clients {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  cluster: InternalCluster;
}

const NAMESPACE = /^[a-zA-Z0-9._-]{0,200}$/;
const DEFAULT_READ_BYTES = 1024 * 1024;
/** Kafka's internal topics (__consumer_offsets, __transaction_state) are not the platform's. */
const INTERNAL_TOPIC_PREFIX = '__';

export class KafkaEventLog implements EventLog {
  private closed = false;
  /** Partition counts of topics seen, by cluster name: partitions are only ever added, so a cached count is a lower bound. */
  private readonly partitionCounts = new Map<string, number>();
  /** Round-robin cursors for messages without a key, by cluster topic name. */
  private readonly nextPartitions = new Map<string, number>();
  private readonly reader: KafkaReader;
  private readonly groupOffsets: KafkaGroupOffsets;
  private readonly metrics;

  private constructor(
    private readonly clients: Clients,
    private readonly namespace: string,
    private readonly replicationFactor: number,
    private readonly defaultReadBytes: number,
    private readonly logger: Logger,
    metrics: Metrics | undefined,
  ) {
    this.reader = new KafkaReader({ cluster: clients.cluster, logger });
    this.groupOffsets = new KafkaGroupOffsets({ cluster: clients.cluster, admin: clients.admin, logger });
    this.metrics = metrics && eventLogMetrics(metrics);
  }

  /** Connects the admin client, the idempotent producer and the reader's cluster to `options.brokers`. */
  static async open(options: KafkaEventLogOptions): Promise<KafkaEventLog> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'event-log' });
    const namespace = options.namespace ?? '';
    if (!NAMESPACE.test(namespace)) {
      throw new InvalidArgumentError(`Invalid Kafka namespace ${JSON.stringify(namespace)}: use up to 200 characters from a-z, A-Z, 0-9, '.', '_' and '-'`, { namespace });
    }
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new InvalidArgumentError('The Kafka event log needs at least one broker (host:port)', { brokers: options.brokers });
    }
    const kafka = new kafkajs.Kafka({
      brokers: [...options.brokers],
      clientId: options.clientId ?? 'lambda-platform',
      ssl: options.ssl ?? false,
      ...(options.sasl ? { sasl: options.sasl as SASLOptions } : {}),
      connectionTimeout: options.connectionTimeoutMs ?? 3000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
      ...(options.retries === undefined ? {} : { retry: { retries: options.retries } }),
      logLevel: kafkaLogLevel(logger),
      logCreator: kafkaLogCreator(logger),
    });
    const admin = kafka.admin();
    const producer = kafka.producer({
      // Retries never duplicate or reorder records: the broker drops a batch whose sequence it has seen.
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every message carries its partition (see `append`); kafkajs's partitioner only passes it on.
      createPartitioner: () => ({ message }) => message.partition ?? 0,
    });
    const cluster = createInternalCluster(kafka);
    const connected: { disconnect(): Promise<void> }[] = [];
    try {
      await mapKafkaErrors({ operation: 'connect' }, async () => {
        for (const client of [admin, producer, cluster]) {
          await client.connect();
          connected.push(client);
        }
      });
    } catch (error) {
      await Promise.allSettled(connected.map((client) => client.disconnect()));
      throw error;
    }
    logger.debug({ brokers: options.brokers, namespace }, 'connected to Kafka');
    return new KafkaEventLog(
      { kafka, admin, producer, cluster },
      namespace,
      options.replicationFactor ?? 1,
      options.defaultReadBytes ?? DEFAULT_READ_BYTES,
      logger,
      options.metrics,
    );
  }

  async createTopic(topic: string, options: CreateTopicOptions): Promise<void> {
    this.assertOpen();
    const clusterTopic = this.clusterTopic(topic);
    const partitions = validatePartitionCount(options?.partitions, topic);
    const created = await mapKafkaErrors({ operation: 'topic creation', topic }, () =>
      this.clients.admin.createTopics({
        topics: [{ topic: clusterTopic, numPartitions: partitions, replicationFactor: this.replicationFactor }],
        // kafkajs's own wait gives up on what a KRaft broker answers first: see KafkaReader.waitForLeaders.
        waitForLeaders: false,
      }),
    );
    if (!created) throw new TopicExistsError(`Topic "${topic}" already exists`, { topic });
    await this.reader.waitForLeaders(clusterTopic, topic, partitions);
    this.partitionCounts.set(clusterTopic, partitions);
    this.logger.info({ topic, partitions }, 'created topic');
  }

  async listTopics(): Promise<TopicDescription[]> {
    this.assertOpen();
    const { topics } = await mapKafkaErrors({ operation: 'topic listing' }, () => this.clients.admin.fetchTopicMetadata());
    return topics
      .filter(({ name }) => name.startsWith(this.namespace) && !name.startsWith(INTERNAL_TOPIC_PREFIX, this.namespace.length))
      .map(({ name, partitions }) => ({ name: name.slice(this.namespace.length), partitions: partitions.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeTopic(topic: string): Promise<TopicDescription> {
    return { name: topic, partitions: await this.partitionCount(topic, { refresh: true }) };
  }

  async append(topic: string, messages: readonly LogMessage[]): Promise<AppendedRecord[]> {
    const clusterTopic = this.clusterTopic(topic);
    const partitionCount = await this.partitionCount(topic);
    if (!Array.isArray(messages)) throw new InvalidArgumentError('append takes an array of messages', { topic });
    if (messages.length === 0) return [];
    const now = Date.now();
    // Validate and place every message before sending any, so a bad one changes nothing.
    const placed: (Message & { partition: number })[] = [];
    for (const [index, message] of messages.entries()) {
      const record = toKafkaMessage(message, index, topic, now);
      placed.push({ ...record, partition: await this.choosePartition(clusterTopic, topic, partitionCount, message, record.key, index) });
    }
    const started = performance.now();
    const acknowledged = await mapKafkaErrors({ operation: 'append', topic }, () =>
      this.clients.producer.send({ topic: clusterTopic, acks: -1, messages: placed }),
    ).catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
    const baseOffsets = new Map(acknowledged.map((result) => [result.partition, Number(result.baseOffset)]));
    // kafkajs sends each partition's messages as one batch, in input order: offsets follow from the base.
    const nextInPartition = new Map<number, number>();
    const results = placed.map(({ partition }) => {
      const base = baseOffsets.get(partition);
      if (base === undefined) throw new InvalidArgumentError(`Kafka acknowledged no offset for ${topic}/${partition}`, { topic, partition });
      const index = nextInPartition.get(partition) ?? 0;
      nextInPartition.set(partition, index + 1);
      return { partition, offset: base + index };
    });
    this.metrics?.appendedRecords.inc({ topic }, messages.length);
    this.metrics?.appendDuration.observe((performance.now() - started) / 1000);
    return results;
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<ReadResult> {
    const clusterTopic = this.clusterTopic(topic);
    await this.validatePartition(topic, partition);
    validateOffset(offset, topic, partition);
    validateReadLimit('maxBytes', options.maxBytes);
    validateReadLimit('maxRecords', options.maxRecords);
    return this.reader
      .read(clusterTopic, topic, partition, offset, {
        maxBytes: options.maxBytes ?? this.defaultReadBytes,
        maxRecords: options.maxRecords ?? Number.MAX_SAFE_INTEGER,
      })
      .catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
  }

  async startOffsets(topic: string): Promise<number[]> {
    return (await this.topicOffsets(topic)).map(({ low }) => low);
  }

  async endOffsets(topic: string): Promise<number[]> {
    return (await this.topicOffsets(topic)).map(({ high }) => high);
  }

  async commitOffsets(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    validateGroupName(group);
    const clusterTopic = this.clusterTopic(topic);
    await this.partitionCount(topic);
    if (!(offsets instanceof Map)) throw new InvalidArgumentError('offsets must be a Map of partition to offset', { group, topic });
    for (const [partition, offset] of offsets) {
      await this.validatePartition(topic, partition);
      validateOffset(offset, topic, partition);
    }
    await this.groupOffsets
      .commit(this.namespace + group, clusterTopic, offsets, { group, topic })
      .catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    validateGroupName(group);
    const clusterTopic = this.clusterTopic(topic);
    await this.partitionCount(topic);
    return this.groupOffsets.committed(this.namespace + group, clusterTopic, { group, topic }).catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
  }

  /** Disconnects from the cluster; appends already acknowledged are on the brokers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { producer, admin, cluster } = this.clients;
    const results = await Promise.allSettled([producer.disconnect(), admin.disconnect(), cluster.disconnect()]);
    for (const result of results) {
      if (result.status === 'rejected') this.logger.warn({ err: result.reason }, 'disconnecting from Kafka failed');
    }
    this.logger.debug('closed');
  }

  /** The topic's name on the cluster: validated as the platform's, then with the namespace. */
  private clusterTopic(topic: string): string {
    this.assertOpen();
    validateTopicName(topic);
    const clusterTopic = this.namespace + topic;
    if (clusterTopic.length > 249) {
      throw new InvalidTopicError(`Invalid topic name ${JSON.stringify(topic)}: with the namespace "${this.namespace}" it exceeds Kafka's 249 characters`, { topic });
    }
    return clusterTopic;
  }

  /** The topic's partition count, from the cache unless `refresh`; fails with UnknownTopicError. */
  private async partitionCount(topic: string, { refresh = false } = {}): Promise<number> {
    const clusterTopic = this.clusterTopic(topic);
    const cached = this.partitionCounts.get(clusterTopic);
    if (cached !== undefined && !refresh) return cached;
    const { topics } = await mapKafkaErrors({ operation: 'topic lookup', topic }, () =>
      this.clients.admin.fetchTopicMetadata({ topics: [clusterTopic] }),
    ).catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
    const found = topics.find(({ name }) => name === clusterTopic);
    if (!found) throw new UnknownTopicError(`Unknown topic "${topic}"`, { topic });
    this.partitionCounts.set(clusterTopic, found.partitions.length);
    return found.partitions.length;
  }

  /** Validates a partition, looking the count up again before refusing: partitions may have been added. */
  private async validatePartition(topic: string, partition: number): Promise<number> {
    const count = await this.partitionCount(topic);
    if (Number.isInteger(partition) && partition >= count) return validatePartition(partition, topic, await this.partitionCount(topic, { refresh: true }));
    return validatePartition(partition, topic, count);
  }

  private async topicOffsets(topic: string): Promise<{ low: number; high: number }[]> {
    const clusterTopic = this.clusterTopic(topic);
    const count = await this.partitionCount(topic);
    const offsets = await this.reader.offsets(clusterTopic, topic).catch((error: unknown) => this.forgetIfUnknown(clusterTopic, error));
    const byPartition = Array.from({ length: Math.max(count, offsets.length) }, () => ({ low: 0, high: 0 }));
    for (const { partition, low, high } of offsets) byPartition[partition] = { low, high };
    return byPartition;
  }

  private async choosePartition(clusterTopic: string, topic: string, count: number, message: LogMessage, key: Buffer | null, index: number): Promise<number> {
    if (message.partition !== undefined) {
      try {
        return await this.validatePartition(topic, message.partition);
      } catch (error) {
        throw new InvalidArgumentError(`Message ${index}: ${(error as Error).message}`, { topic, index });
      }
    }
    if (key !== null) return partitionForKey(key, count);
    const partition = this.nextPartitions.get(clusterTopic) ?? 0;
    this.nextPartitions.set(clusterTopic, (partition + 1) % count);
    return partition;
  }

  /** Drops a topic the cluster no longer knows from the cache, and rethrows. */
  private forgetIfUnknown(clusterTopic: string, error: unknown): never {
    if (error instanceof UnknownTopicError) this.partitionCounts.delete(clusterTopic);
    throw error;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The Kafka event log');
  }
}

/** A port message as kafkajs sends it; fails with InvalidArgumentError naming the message. */
function toKafkaMessage(message: LogMessage, index: number, topic: string, now: number): Message & { key: Buffer | null } {
  const { key, value, timestamp, headers } = validateMessage(message, index, topic, now);
  // A string: kafkajs replaces a falsy timestamp (the number 0) with the send time.
  return { key, value, headers, timestamp: String(timestamp) };
}
