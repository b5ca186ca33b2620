import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import kafkajs, { type ISocketFactory } from 'kafkajs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeWhenAvailable, makeTempDir, useSharedEngines } from '@lambda/test-kit';
import {
  ConnectionError,
  EmbeddedEventLog,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  PlatformError,
  TimeoutError,
  TopicExistsError,
  UnknownTopicError,
  loadConfig,
  silentLogger,
} from '@lambda/core';
import { KafkaEventLog, kafkaErrorToPlatformError, openSomePorts, type KafkaEventLogOptions } from '../src/index.js';
import { describeEventLogContract, readAll } from '@lambda/port-contracts';

const brokers = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((broker) => broker.trim())
  .filter(Boolean);
const skipReason = brokers.length === 0 ? 'KAFKA_BROKERS is not set' : undefined;

// A fault test elsewhere may stop the shared engines: not while this file uses them.
useSharedEngines(skipReason);

/** A namespace no other test (or run) shares, so topics and groups never collide on a shared cluster. */
function uniqueNamespace(): string {
  return `test-${randomUUID().slice(0, 8)}.`;
}

function openLog(namespace: string, extra: Partial<KafkaEventLogOptions> = {}): Promise<KafkaEventLog> {
  return KafkaEventLog.open({ brokers, namespace, clientId: 'event-log-kafka-test', connectionTimeoutMs: 2000, ...extra });
}

/** Deletes every topic of a namespace; best effort, since a cluster may not allow deleting topics. */
function deleteNamespace(namespace: string): Promise<void> {
  return deleteTopicsWhere((topic) => topic.startsWith(namespace));
}

async function deleteTopicsWhere(matches: (topic: string) => boolean): Promise<void> {
  const admin = new kafkajs.Kafka({ brokers, clientId: 'event-log-kafka-test-cleanup', logLevel: kafkajs.logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter(matches);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 5000 });
  } catch {
    // Left for the cluster's retention: every name carries the unique namespace.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

describeEventLogContract({
  name: 'Kafka (kafkajs)',
  skipReason,
  async prepare() {
    const namespace = uniqueNamespace();
    return { open: () => openLog(namespace), cleanUp: () => deleteNamespace(namespace) };
  },
});

describeWhenAvailable('the Kafka event log', skipReason, () => {
  let namespace: string;
  let log: KafkaEventLog;

  beforeEach(async () => {
    namespace = uniqueNamespace();
    log = await openLog(namespace);
  });

  afterEach(async () => {
    await log.close();
    await deleteNamespace(namespace);
  });

  describe('when producing', () => {
    it('should get a producer id, ask for acks from all replicas and number its batches in sequence', async () => {
      const wire = new WireTap();
      const tapped = await openLog(namespace, { socketFactory: wire.socketFactory });
      try {
        await tapped.createTopic('idempotent', { partitions: 1 });
        await tapped.append('idempotent', [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }]);
        await tapped.append('idempotent', [{ value: 'c', partition: 0 }]);
      } finally {
        await tapped.close();
      }
      expect(wire.apiKeys()).toContain(INIT_PRODUCER_ID);
      const [first, second, ...rest] = wire.produceRequests();
      expect(rest).toEqual([]);
      for (const request of [first!, second!]) expect(request.acks).toBe(-1);
      // -1 is what a producer without idempotence writes.
      expect(first!.producerId).toBeGreaterThanOrEqual(0);
      expect(second!.producerId).toBe(first!.producerId);
      expect([first!.baseSequence, second!.baseSequence]).toEqual([0, first!.recordCount]);
    });

    it('should not duplicate an append that kafkajs retried after losing the connection', async () => {
      const wire = new WireTap();
      const tapped = await openLog(namespace, { socketFactory: wire.socketFactory });
      try {
        await tapped.createTopic('retried', { partitions: 1 });
        // The broker stores the batch, but its answer never arrives: kafkajs sends the same batch again.
        wire.dropNextProduceResponse = true;
        const appended = await tapped.append('retried', ['x', 'y', 'z'].map((value) => ({ value, partition: 0 })));
        const sent = wire.produceRequests();
        expect(sent).toHaveLength(2);
        expect(sent[1]).toEqual(sent[0]);
        expect(appended).toEqual([0, 1, 2].map((offset) => ({ partition: 0, offset })));
        expect(await tapped.endOffsets('retried')).toEqual([3]);
        expect((await readAll(tapped, 'retried', 0)).map((r) => r.value.toString())).toEqual(['x', 'y', 'z']);
      } finally {
        await tapped.close();
      }
    });

    it('should place keys in the same partitions as the embedded log', async () => {
      const keys = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? `key-${i}-${randomUUID()}` : Buffer.from(randomUUID().repeat(1 + (i % 3)))));
      const partitions = 7;
      await log.createTopic('placed', { partitions });
      const dir = await makeTempDir('kafka-partitioner');
      const embedded = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
      try {
        await embedded.createTopic('placed', { partitions });
        const messages = keys.map((key, i) => ({ key, value: `v${i}` }));
        const onKafka = await log.append('placed', messages);
        const onEmbedded = await embedded.append('placed', messages);
        expect(onKafka.map((r) => r.partition)).toEqual(onEmbedded.map((r) => r.partition));
        expect(new Set(onKafka.map((r) => r.partition)).size).toBe(partitions);
        // And the records are where the acknowledgements say.
        const stored = new Map<string, string>();
        for (let partition = 0; partition < partitions; partition++) {
          for (const record of await readAll(log, 'placed', partition)) stored.set(`${partition}:${record.offset}`, record.value.toString());
        }
        onKafka.forEach((r, i) => expect(stored.get(`${r.partition}:${r.offset}`)).toBe(`v${i}`));
      } finally {
        await embedded.close();
        await dir.remove();
      }
    });
  });

  describe('when sharing a cluster', () => {
    it('should see only the topics and group offsets of its own namespace', async () => {
      const otherNamespace = uniqueNamespace();
      const other = await openLog(otherNamespace);
      try {
        await log.createTopic('shared-name', { partitions: 1 });
        await other.createTopic('shared-name', { partitions: 2 });
        await log.commitOffsets('group', 'shared-name', new Map([[0, 1]]));
        expect(await log.describeTopic('shared-name')).toEqual({ name: 'shared-name', partitions: 1 });
        expect(await other.describeTopic('shared-name')).toEqual({ name: 'shared-name', partitions: 2 });
        expect(await log.listTopics()).toEqual([{ name: 'shared-name', partitions: 1 }]);
        expect(await other.committedOffsets('group', 'shared-name')).toEqual(new Map());
      } finally {
        await other.close();
        await deleteNamespace(otherNamespace);
      }
    });
  });

  describe('when reading sequentially as the speed layer does', () => {
    it('should hand out every record once in small pages, and nothing past the end', async () => {
      await log.createTopic('pages', { partitions: 1 });
      for (let batch = 0; batch < 5; batch++) {
        await log.append('pages', Array.from({ length: 40 }, (_, i) => ({ value: `r${batch * 40 + i}`, partition: 0 })));
      }
      const seen: string[] = [];
      let offset = 0;
      for (;;) {
        const page = await log.read('pages', 0, offset, { maxRecords: 15 });
        expect(page.records.length).toBeLessThanOrEqual(15);
        seen.push(...page.records.map((r) => r.value.toString()));
        offset = page.nextOffset;
        if (page.records.length === 0) break;
      }
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`));
      expect(offset).toBe(200);
      await expect(log.read('pages', 0, 201)).rejects.toThrow(OffsetOutOfRangeError);
    });

    it('should keep making progress when records grow much larger than the ones before', async () => {
      await log.createTopic('growing', { partitions: 1 });
      const small = Array.from({ length: 50 }, (_, i) => `s${i}`);
      const large = Array.from({ length: 6 }, (_, i) => `L${i}-${'z'.repeat(50_000)}`);
      await log.append('growing', small.map((value) => ({ value, partition: 0 })));
      // One append per large record: each is its own batch, far above the size the small ones suggest.
      for (const value of large) await log.append('growing', [{ value, partition: 0 }]);
      const seen: string[] = [];
      for (let offset = 0; offset < small.length + large.length; ) {
        const page = await log.read('growing', 0, offset, { maxRecords: 20, maxBytes: 16 * 1024 * 1024 });
        expect(page.records.length).toBeGreaterThan(0);
        seen.push(...page.records.map((r) => r.value.toString()));
        offset = page.nextOffset;
      }
      expect(seen).toEqual([...small, ...large]);
    });
  });
});

describeWhenAvailable('when the config picks Kafka for the event log', skipReason, () => {
  it('should open the Kafka adapter on the configured brokers', async () => {
    const config = loadConfig({ env: { LOG: 'kafka', KAFKA_BROKERS: brokers.join(','), KAFKA_CLIENT_ID: 'event-log-kafka-config-test' } });
    const ports = await openSomePorts(config, { logger: silentLogger() }, ['eventLog']);
    const topic = `config-${randomUUID().slice(0, 8)}`;
    try {
      expect(ports.eventLog).toBeInstanceOf(KafkaEventLog);
      expect(ports.locations.eventLog).toBe(`kafka://${brokers.join(',')}`);
      await ports.eventLog.createTopic(topic, { partitions: 2 });
      expect(await ports.eventLog.describeTopic(topic)).toEqual({ name: topic, partitions: 2 });
    } finally {
      await ports.close();
      await deleteTopicsWhere((name) => name === topic);
    }
  });
});

describe('when the Kafka event log cannot reach a broker', () => {
  let closedPort: number;
  let server: Server;

  beforeAll(async () => {
    // A port that was just free: nothing listens there any more.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedPort = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  afterAll(() => {
    server.close();
  });

  it('should fail to open with a retriable ConnectionError', async () => {
    const error = await KafkaEventLog.open({ brokers: [`127.0.0.1:${closedPort}`], retries: 1, connectionTimeoutMs: 500 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retriable).toBe(true);
    expect((error as Error).message).toContain(String(closedPort));
  });

  it('should refuse to open without brokers or with an invalid namespace', async () => {
    await expect(KafkaEventLog.open({ brokers: [] })).rejects.toThrow(InvalidArgumentError);
    await expect(KafkaEventLog.open({ brokers: ['127.0.0.1:1'], namespace: 'has space' })).rejects.toThrow(/namespace/);
  });
});

describe('when mapping kafkajs errors', () => {
  const context = { operation: 'fetch', topic: 'orders', partition: 2, offset: 41 };
  /** A protocol error as kafkajs builds it from a response's error code. */
  const protocolError = (type: string, code: number, retriable: boolean): Error =>
    new kafkajs.KafkaJSProtocolError({ message: `broker says ${type}`, type, code, retriable } as unknown as Error);

  it.each([
    ['UNKNOWN_TOPIC_OR_PARTITION', 3, true, UnknownTopicError],
    ['TOPIC_ALREADY_EXISTS', 36, false, TopicExistsError],
    ['OFFSET_OUT_OF_RANGE', 1, false, OffsetOutOfRangeError],
    ['MESSAGE_TOO_LARGE', 10, false, InvalidArgumentError],
  ] as const)('should map %s to its platform error', (type, code, retriable, expected) => {
    const mapped = kafkaErrorToPlatformError(protocolError(type, code, retriable), context);
    expect(mapped).toBeInstanceOf(expected);
    expect(mapped.context).toMatchObject({ topic: 'orders', kafkaError: type });
  });

  it('should name the offset an out-of-range read asked for', () => {
    const mapped = kafkaErrorToPlatformError(new kafkajs.KafkaJSOffsetOutOfRange(protocolError('OFFSET_OUT_OF_RANGE', 1, false), { topic: 'orders', partition: 2 }), context);
    expect(mapped).toBeInstanceOf(OffsetOutOfRangeError);
    expect(mapped.message).toContain(String(context.offset));
  });

  it.each([true, false])('should keep the retriable flag (%s) of errors without a platform meaning', (retriable) => {
    const mapped = kafkaErrorToPlatformError(protocolError('NOT_LEADER_FOR_PARTITION', 6, retriable), context);
    expect(mapped).toBeInstanceOf(PlatformError);
    expect(mapped.retriable).toBe(retriable);
    expect(mapped.cause).toBeInstanceOf(kafkajs.KafkaJSProtocolError);
  });

  it('should report connection failures and timeouts as retriable', () => {
    const connection = kafkaErrorToPlatformError(new kafkajs.KafkaJSConnectionError('Connection error: ECONNREFUSED'), context);
    const timeout = kafkaErrorToPlatformError(new kafkajs.KafkaJSRequestTimeoutError('Request Fetch(key: 1, version: 11) timed out'), context);
    expect(connection).toBeInstanceOf(ConnectionError);
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect([connection.retriable, timeout.retriable]).toEqual([true, true]);
  });

  it('should judge a retry wrapper by the error it gave up on', () => {
    const cause = new kafkajs.KafkaJSConnectionError('Connection error: ECONNREFUSED');
    const wrapped = new kafkajs.KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 3000 });
    expect(wrapped.retriable).toBe(false);
    const mapped = kafkaErrorToPlatformError(wrapped, context);
    expect(mapped).toBeInstanceOf(ConnectionError);
    expect(mapped.retriable).toBe(true);
  });

  it('should judge an aggregate (as createTopics throws) by its first error', () => {
    const aggregate = new kafkajs.KafkaJSAggregateError('Topic creation errors', [protocolError('INVALID_REPLICATION_FACTOR', 38, false)]);
    const mapped = kafkaErrorToPlatformError(aggregate, { operation: 'topic creation', topic: 'orders' });
    expect(mapped).toBeInstanceOf(InvalidArgumentError);
    expect(mapped.message).toContain('broker says INVALID_REPLICATION_FACTOR');
  });

  it('should pass platform errors through unchanged', () => {
    const original = new UnknownTopicError('Unknown topic "orders"', { topic: 'orders' });
    expect(kafkaErrorToPlatformError(original, context)).toBe(original);
  });
});

const PRODUCE = 0;
const INIT_PRODUCER_ID = 22;

interface ProduceRequest {
  acks: number;
  producerId: number;
  baseSequence: number;
  recordCount: number;
}

/**
 * Watches the adapter's Kafka requests on the wire, and can lose a Produce response (the connection
 * closes instead), as a broker restart or a network cut would.
 */
class WireTap {
  /** Requests sent: API key and the frame without its size prefix. */
  private readonly requests: { apiKey: number; frame: Buffer }[] = [];
  dropNextProduceResponse = false;

  readonly socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connect({ host, port }, onConnect);
    const dropped = new Set<number>();
    const outgoing = new FrameSplitter();
    const incoming = new FrameSplitter();
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      for (const frame of outgoing.push(Buffer.from(chunk))) {
        const apiKey = frame.readInt16BE(0);
        this.requests.push({ apiKey, frame });
        if (apiKey === PRODUCE && this.dropNextProduceResponse) {
          this.dropNextProduceResponse = false;
          dropped.add(frame.readInt32BE(4));
        }
      }
      return write(chunk, ...rest);
    }) as Socket['write'];
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event !== 'data') return emit(event, ...args);
      for (const frame of incoming.push(args[0] as Buffer)) {
        if (dropped.has(frame.readInt32BE(0))) {
          // With an error: kafkajs listens for 'error' and 'end', not 'close'.
          socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
          return true;
        }
        const sized = Buffer.alloc(4 + frame.length);
        sized.writeInt32BE(frame.length, 0);
        frame.copy(sized, 4);
        emit('data', sized);
      }
      return true;
    }) as Socket['emit'];
    return socket;
  };

  apiKeys(): number[] {
    return this.requests.map((request) => request.apiKey);
  }

  /** The Produce requests sent (v3 to v8, one topic and partition each), decoded down to their record batch header. */
  produceRequests(): ProduceRequest[] {
    return this.requests
      .filter((request) => request.apiKey === PRODUCE)
      .map(({ frame }) => {
        let at = 8;
        at += 2 + Math.max(0, frame.readInt16BE(at)); // client id
        at += 2 + Math.max(0, frame.readInt16BE(at)); // transactional id
        const acks = frame.readInt16BE(at);
        at += 2 + 4 + 4; // acks, timeout, topic count
        at += 2 + frame.readInt16BE(at) + 4 + 4 + 4; // topic name, partition count, partition, records size
        return {
          acks,
          producerId: Number(frame.readBigInt64BE(at + 43)),
          baseSequence: frame.readInt32BE(at + 53),
          recordCount: frame.readInt32BE(at + 57),
        };
      });
  }
}

/** Cuts a byte stream into Kafka frames (a 4-byte size, then that many bytes), returned without the size. */
class FrameSplitter {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readInt32BE(0)) {
      const size = this.pending.readInt32BE(0);
      frames.push(this.pending.subarray(4, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return frames;
  }
}
