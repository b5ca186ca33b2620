/**
 * Differential test of our Kafka front: each scenario is written once, as a function of a broker, and runs
 * against a real Kafka broker (KAFKA_BROKERS) and against KafkaProtocolServer over an embedded log; their
 * normalized observations (records, offsets, error codes, client behaviour) must be equal. What legitimately
 * differs is stripped (cluster ids, broker ids and addresses, producer ids, leader epochs); what differs by
 * design is listed in docs/kafka-compatibility.md ("Differences from a real broker") and asserted here as
 * documented, so the table stays true.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/api-versions.js';
import { ErrorCode } from '../src/error-codes.js';
import { encodeRecordBatch } from '../src/record-batch-codec.js';
import { describeWhenAvailable, useSharedEngines } from '@lambda/test-kit';
import { KCAT, kcat, kcatInstalled, runKcat, type KcatRun } from './kcat-runner.js';
import { startTestServer, type TestServer } from './kafka-test-server.js';
import { RawKafkaClient, fetchOnePartition } from './raw-kafka-client.js';

const realBroker = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((broker) => broker.trim())
  .filter(Boolean)[0];
const skipReason = realBroker === undefined ? 'KAFKA_BROKERS is not set' : !kcatInstalled ? `${KCAT} is missing` : undefined;

// A fault test elsewhere may stop the shared engines: not while this file uses them.
useSharedEngines(skipReason);

/** Record timestamps of this run: an hour ago, so a real broker's 7-day retention cannot delete them mid-test. */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
/** Room for a run that the shared broker's restart interrupts: waiting for it to answer, then running again. */
const TEST_TIMEOUT_MS = 180_000;
const WAIT_MS = 60_000;

interface Target {
  name: 'real Kafka' | 'our front';
  broker: string;
  kafka(clientId: string, config?: Partial<kafkajs.KafkaConfig>): kafkajs.Kafka;
  raw(): Promise<RawKafkaClient>;
}

const silentLogCreator: kafkajs.logCreator = () => () => undefined;

function targetAt(name: Target['name'], broker: string): Target {
  const { host, port } = hostAndPort(broker);
  return {
    name,
    broker,
    // Retries span a few seconds, so a real broker restarting for someone else's fault test is waited for.
    kafka: (clientId, config = {}) =>
      new kafkajs.Kafka({
        brokers: [broker],
        clientId,
        logCreator: silentLogCreator,
        connectionTimeout: 3000,
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 },
        ...config,
      }),
    raw: () => connectRaw(port, host),
  };
}

/** A raw connection, waiting out a broker that refuses connections while it restarts. */
async function connectRaw(port: number, host: string, timeoutMs = 30_000): Promise<RawKafkaClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await RawKafkaClient.connect(port, host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Resolves once the broker answers a metadata request; the shared broker may be restarting. */
async function waitForBroker(target: Target, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const admin = target.kafka('differential-probe', { retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${target.name} at ${target.broker} did not answer within ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Watches the real broker's port while a scenario runs: a refused connection means the shared broker is
 * restarting (another engineer's fault test), and the scenario's outcome says nothing about our front.
 */
class RestartWatch {
  disturbed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly host: string, private readonly port: number) {
    this.timer = setInterval(() => this.probe(), 300);
  }

  /** Keeps watching a little longer: a failure may show before the port closes. */
  async settle(ms = 2000): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.disturbed;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private probe(): void {
    const socket = connect(this.port, this.host);
    socket.once('connect', () => socket.destroy());
    socket.once('error', () => {
      this.disturbed = true;
      socket.destroy();
    });
  }
}

let watch: RestartWatch | undefined;

/**
 * Runs a differential scenario (both brokers and the comparison); when the real broker restarted under it,
 * waits until it answers again and runs the scenario anew, with new topic and group names.
 */
async function differential(scenario: () => Promise<void>): Promise<void> {
  const { host, port } = hostAndPort(targets.real.broker);
  for (let attempt = 1; ; attempt++) {
    watch = new RestartWatch(host, port);
    try {
      await scenario();
      return;
    } catch (error) {
      if (attempt >= 3 || !(await watch.settle())) throw error;
      console.warn(`the real broker restarted during attempt ${attempt}: running the scenario again once it answers`);
      await waitForBroker(targets.real);
    } finally {
      watch.stop();
      watch = undefined;
    }
  }
}

/**
 * Waits for a condition, polling every `intervalMs` (200 for one that asks a broker); gives up at once when
 * the real broker restarted meanwhile, so that the attempt is run again rather than waited out.
 */
async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, { intervalMs = 25, timeoutMs = WAIT_MS } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (watch?.disturbed) throw new Error(`Gave up waiting for ${what}: the real broker restarted`);
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function hostAndPort(broker: string): { host: string; port: number } {
  const colon = broker.lastIndexOf(':');
  return { host: broker.slice(0, colon), port: Number(broker.slice(colon + 1)) };
}

function uniqueName(what: string): string {
  return `differential-${what}-${randomUUID().slice(0, 8)}`;
}

const realTopics: string[] = [];

async function createTopic(target: Target, topic: string, partitions: number): Promise<void> {
  if (target.name === 'real Kafka') realTopics.push(topic);
  const created = await withAdmin(target, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }));
  expect(created).toBe(true);
  // A KRaft broker publishes a new topic's leaders to its metadata before its replica manager hosts the
  // partitions; on a loaded machine that gap lasts, and requests in it answer UNKNOWN_TOPIC_OR_PARTITION.
  // A ListOffsets answered for every partition means every partition is hosted.
  await withAdmin(target, (admin) =>
    waitUntil(() => admin.fetchTopicOffsets(topic).then((offsets) => offsets.length === partitions, retriableAsFalse), `${target.name}: ${topic}'s partitions hosted`, {
      intervalMs: 200,
    }),
  );
}

/** For a condition polled until it holds: a retriable broker error counts as "not yet". */
function retriableAsFalse(error: unknown): false {
  if ((error as { retriable?: boolean }).retriable === true) return false;
  throw error;
}

/** Retries what a client is expected to retry on a retriable error (a commit has no retry of its own in kafkajs). */
async function retryRetriable<T>(what: string, operation: () => Promise<T>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if ((error as { retriable?: boolean }).retriable !== true || watch?.disturbed) throw error;
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function withAdmin<T>(target: Target, use: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = target.kafka('differential-admin').admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A producer, idempotent unless `config` says otherwise: on a loaded machine kafkajs may time a produce
 * out and send it again, and the scenarios count offsets, which a duplicated batch would shift.
 */
async function withProducer<T>(target: Target, config: kafkajs.ProducerConfig, use: (producer: kafkajs.Producer) => Promise<T>): Promise<T> {
  const producer = target.kafka('differential-producer').producer({ idempotent: true, maxInFlightRequests: 1, ...config });
  await producer.connect();
  try {
    return await use(producer);
  } finally {
    await producer.disconnect();
  }
}

/** Runs a scenario against both brokers at once; fails with both outcomes when either fails. */
async function onBoth<T>(scenario: (target: Target) => Promise<T>): Promise<{ real: T; front: T }> {
  const [real, front] = await Promise.allSettled([scenario(targets.real), scenario(targets.front)]);
  if (real.status === 'fulfilled' && front.status === 'fulfilled') return { real: real.value, front: front.value };
  const describeOutcome = (outcome: PromiseSettledResult<T>) => (outcome.status === 'fulfilled' ? 'succeeded' : String((outcome.reason as Error)?.stack ?? outcome.reason));
  throw new Error(`real Kafka: ${describeOutcome(real)}\nour front: ${describeOutcome(front)}`);
}

// ---- normalization -------------------------------------------------------------------------------------

interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | string[]]>;
  timestamp: string;
}

/** A kafkajs message as plain data; a timestamp the producer's clock set (not ours) is only checked for plausibility. */
function consumedRecord(partition: number, message: kafkajs.KafkaMessage): ConsumedRecord {
  const headers = Object.entries(message.headers ?? {})
    .map(([name, value]): [string, string | string[]] => [name, Array.isArray(value) ? value.map((each) => String(each)) : String(value)])
    .sort(([a], [b]) => a.localeCompare(b));
  return {
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString(),
    value: message.value === null ? null : message.value.toString(),
    headers,
    timestamp: normalizedTimestamp(Number(message.timestamp)),
  };
}

function normalizedTimestamp(timestamp: number): string {
  if (timestamp >= T0 && timestamp < T0 + 3_600_000) return `T0+${timestamp - T0}`;
  // Set by a producer's clock during this run (kcat): plausible, but not the same on both runs.
  if (Math.abs(timestamp - Date.now()) < 600_000) return 'producer clock';
  return `unexpected ${timestamp}`;
}

/** Compares two scenario outcomes part by part, so a failure names the part that differs (CI keeps one line of it). */
function expectSameParts(ours: Record<string, unknown>, real: Record<string, unknown>): void {
  expect(Object.keys(ours).sort()).toEqual(Object.keys(real).sort());
  for (const part of Object.keys(real)) expect(ours[part], `${part}, ours against real Kafka`).toEqual(real[part]);
}

const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) => a.partition - b.partition || a.offset - b.offset;

/** kcat's log lines without what differs between brokers: timestamps, addresses, broker ids. */
function normalizeKcatLog(text: string, target: Target): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) =>
      line
        .replace(/^%(\d)\|[\d.]+\|/, '%$1|<time>|')
        .replaceAll(target.broker, '<broker>')
        .replace(/<broker>\/\d+/g, '<broker>/<id>')
        .replace(/broker \d+/g, 'broker <id>'),
    );
}

/**
 * How a kcat run ended: exit code, output, and on stderr kcat's own messages ("% ...") and librdkafka's
 * offset log lines; its other log lines (a connection retried while the shared broker restarts) are noise.
 */
function kcatOutcome(run: KcatRun, target: Target) {
  const stderr = normalizeKcatLog(run.stderr, target).filter((line) => line.startsWith('% ') || line.includes('|OFFSET|'));
  return { code: run.code, stdout: normalizeKcatLog(run.stdout, target).sort(), stderr };
}

/** kcat -L -J for a topic, without the broker's id and address. */
async function kcatMetadata(target: Target, topic: string) {
  const metadata = JSON.parse(await kcat(['-b', target.broker, '-L', '-J', '-t', topic])) as {
    brokers: Array<{ id: number }>;
    topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
  };
  const brokerId = metadata.brokers[0]?.id;
  return {
    brokers: metadata.brokers.length,
    topics: metadata.topics.map((entry) => ({
      topic: entry.topic,
      error: entry.error ?? null,
      partitions: entry.partitions.map((partition) => ({
        partition: partition.partition,
        leaderIsTheBroker: partition.leader === brokerId,
        replicas: partition.replicas.length,
        isrs: partition.isrs.length,
      })),
    })),
  };
}

function errorShape(error: unknown) {
  const shape = (each: unknown) => {
    const e = each as { name?: string; type?: string; retriable?: boolean } | undefined;
    return e === undefined ? null : { name: e.name, type: e.type ?? null, retriable: e.retriable ?? null };
  };
  const e = error as { originalError?: unknown; cause?: unknown };
  return { error: shape(error), cause: shape(e.originalError ?? e.cause) };
}

// ---- raw protocol requests (non-flexible versions both brokers accept) ----------------------------------------

async function initProducerId(raw: RawKafkaClient) {
  const response = await raw.request(ApiKey.InitProducerId, 1, (writer) => writer.nullableString(null).int32(60_000));
  response.int32(); // throttle
  return { errorCode: response.int16(), producerId: response.int64(), producerEpoch: response.int16() };
}

/** Produce v7 of one batch to one partition: error code and base offset. */
async function rawProduce(raw: RawKafkaClient, topic: string, partition: number, records: Buffer) {
  const response = await raw.request(ApiKey.Produce, 7, (writer) =>
    writer
      .nullableString(null)
      .int16(-1)
      .int32(10_000)
      .array([topic], (topicWriter, name) => topicWriter.string(name).array([partition], (p, index) => p.int32(index).nullableBytes(records))),
  );
  const [answer] = response.array((topicReader) => {
    topicReader.string();
    return topicReader.array((p) => {
      p.int32();
      const errorCode = p.int16();
      const baseOffset = p.int64();
      p.int64(); // log_append_time
      p.int64(); // log_start_offset
      return { errorCode, baseOffset };
    })[0]!;
  });
  return answer!;
}

/** ListOffsets v5 of one partition: error code, timestamp and offset (the leader epoch is a broker's own). */
async function rawListOffset(raw: RawKafkaClient, topic: string, partition: number, timestamp: number) {
  const response = await raw.request(ApiKey.ListOffsets, 5, (writer) =>
    writer
      .int32(-1)
      .int8(0)
      .array([topic], (t, name) => t.string(name).array([partition], (p, index) => p.int32(index).int32(-1).int64(timestamp))),
  );
  response.int32();
  const [answer] = response.array((t) => {
    t.string();
    return t.array((p) => {
      p.int32();
      const result = { errorCode: p.int16(), timestamp: p.int64(), offset: p.int64() };
      p.int32(); // leader_epoch
      return result;
    })[0]!;
  });
  return answer!;
}

/** Metadata v8 for one topic, asking the broker to create it if it may. */
async function rawMetadata(raw: RawKafkaClient, topic: string) {
  const response = await raw.request(ApiKey.Metadata, 8, (writer) =>
    writer
      .array([topic], (t, name) => t.string(name))
      .boolean(true)
      .boolean(false)
      .boolean(false),
  );
  response.int32();
  response.array((b) => [b.int32(), b.string(), b.int32(), b.nullableString()]);
  response.nullableString(); // cluster id
  response.int32(); // controller
  const [answer] = response.array((t) => {
    const errorCode = t.int16();
    const name = t.string();
    t.boolean();
    const partitions = t.array((p) => {
      p.int16();
      p.int32();
      p.int32();
      p.int32();
      p.array((n) => n.int32());
      p.array((n) => n.int32());
      p.array((n) => n.int32());
      return null;
    }).length;
    t.int32();
    return { errorCode, name, partitions };
  });
  return answer!;
}

function batchOf(values: string[], producer: { producerId: number; producerEpoch: number; baseSequence: number }): Buffer {
  return encodeRecordBatch(
    values.map((value, i) => ({ offset: i, timestamp: T0 + i, key: null, value: Buffer.from(value), headers: {} })),
    producer,
  );
}

async function withRaw<T>(target: Target, use: (raw: RawKafkaClient) => Promise<T>): Promise<T> {
  const raw = await target.raw();
  try {
    return await use(raw);
  } finally {
    raw.close();
  }
}

// ---- the brokers -----------------------------------------------------------------------------------------

let front: TestServer;
const targets = {} as { real: Target; front: Target };

describeWhenAvailable('our Kafka front against a real broker', skipReason, () => {
  beforeAll(async () => {
    // As the real broker is configured (infra/engines/kafka/server.properties): no auto-creation, no initial rebalance delay.
    front = await startTestServer({ autoCreateTopics: false, initialRebalanceDelayMs: 0 });
    targets.real = targetAt('real Kafka', realBroker!);
    targets.front = targetAt('our front', front.broker);
  });

  afterAll(async () => {
    await front?.stop();
    if (realTopics.length === 0) return;
    // Best effort: every name is unique to its run, so a leftover harms nobody.
    const admin = targets.real.kafka('differential-cleanup', { retry: { retries: 1 } }).admin();
    try {
      await admin.connect();
      await admin.deleteTopics({ topics: realTopics, timeout: 10_000 });
    } catch {
      // Left for the broker's retention.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }, TEST_TIMEOUT_MS);

  beforeEach(async () => {
    await waitForBroker(targets.real);
  }, TEST_TIMEOUT_MS);

  describe('when kafkajs and kcat produce and consume gzip-compressed records over three partitions', () => {
    it('should hold and hand back the same records, partitions and offsets, the documented null and header differences aside', () =>
      differential(async () => {
        const topic = uniqueName('gzip');
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 3);
          const metadata = await kcatMetadata(target, topic);
          const sent = await withProducer(target, {}, async (producer) => [
            ...(await producer.send({
              topic,
              compression: kafkajs.CompressionTypes.GZIP,
              messages: Array.from({ length: 30 }, (_, i) => ({
                key: `key-${i % 7}`,
                value: `kafkajs-${i}`,
                headers: { n: String(i), src: 'kafkajs' },
                timestamp: String(T0 + i),
              })),
            })),
            // The edge cases of the log's record model: a tombstone, and one header name given twice.
            ...(await producer.send({
              topic,
              compression: kafkajs.CompressionTypes.GZIP,
              messages: [
                { partition: 2, key: 'edge-tombstone', value: null, timestamp: String(T0 + 100) },
                { partition: 2, key: 'edge-repeated-header', value: 'two values', headers: { tag: ['first', 'second'] }, timestamp: String(T0 + 101) },
              ],
            })),
          ]);
          const lines = Array.from({ length: 30 }, (_, i) => `kcat-key-${i % 5}:kcat-${i}`);
          await kcat(['-b', target.broker, '-P', '-t', topic, '-z', 'gzip', '-K', ':', '-H', 'src=kcat'], `${lines.join('\n')}\n`);
          // -Z: kcat's empty value is sent as NULL, a tombstone.
          await kcat(['-b', target.broker, '-P', '-t', topic, '-p', '1', '-z', 'gzip', '-Z', '-K', ':'], 'edge-kcat-tombstone:\n');

          const kcatLines = (await kcat(['-b', target.broker, '-C', '-t', topic, '-e', '-q', '-Z', '-f', '%p|%o|%k|%S|%s|%h|%T\n']))
            .trim()
            .split('\n')
            .map((line) => {
              const [partition, offset, key, size, value, headers, timestamp] = line.split('|');
              return { partition: Number(partition), offset: Number(offset), key, size: Number(size), value, headers, timestamp: normalizedTimestamp(Number(timestamp)) };
            })
            .sort(byPosition);

          const consumed: ConsumedRecord[] = [];
          const consumer = target.kafka('differential-gzip').consumer({ groupId: uniqueName('gzip-group'), maxWaitTimeInMs: 250 });
          try {
            await consumer.connect();
            await consumer.subscribe({ topic, fromBeginning: true });
            await consumer.run({ eachMessage: async ({ partition, message }) => void consumed.push(consumedRecord(partition, message)) });
            await waitUntil(() => consumed.length >= kcatLines.length, `${target.name}: every record consumed by kafkajs`);
          } finally {
            await consumer.disconnect();
          }
          const offsets = await withAdmin(target, (admin) => admin.fetchTopicOffsets(topic));
          const isEdge = (record: { key?: string | null }) => record.key?.startsWith('edge-') ?? false;
          consumed.sort(byPosition);
          return {
            metadata,
            sent: sent
              .map(({ topicName, partition, errorCode, baseOffset, logAppendTime, logStartOffset }) => ({ topicName, partition, errorCode, baseOffset, logAppendTime, logStartOffset }))
              .sort(bySend),
            offsets: offsets.map(({ partition, low, high, offset }) => ({ partition, low, high, offset })).sort(byPartition),
            kcat: kcatLines.filter((record) => !isEdge(record)),
            kafkajs: consumed.filter((record) => !isEdge(record)),
            edges: { kcat: kcatLines.filter(isEdge), kafkajs: consumed.filter(isEdge) },
          };
        });

        // Something to compare: 63 records in all three partitions, the kcat ones stamped by the producer's clock.
        expect(real.kcat).toHaveLength(60);
        expect(new Set(real.kcat.map((record) => record.partition))).toEqual(new Set([0, 1, 2]));
        expect(real.kcat.filter((record) => record.timestamp.startsWith('unexpected'))).toEqual([]);
        expect(real.edges.kcat.map((record) => record.key)).toEqual(['edge-kcat-tombstone', 'edge-tombstone', 'edge-repeated-header']);

        // Documented difference: a null value reads back as empty, and a repeated header keeps its last value.
        expect(real.edges.kcat.map(({ key, size, value, headers }) => ({ key, size, value, headers }))).toEqual([
          { key: 'edge-kcat-tombstone', size: -1, value: 'NULL', headers: '' },
          { key: 'edge-tombstone', size: -1, value: 'NULL', headers: '' },
          { key: 'edge-repeated-header', size: 10, value: 'two values', headers: 'tag=first,tag=second' },
        ]);
        expect(ours.edges.kcat.map(({ key, size, value, headers }) => ({ key, size, value, headers }))).toEqual([
          // kcat -Z prints an empty value as NULL too: the size (%S) tells them apart.
          { key: 'edge-kcat-tombstone', size: 0, value: 'NULL', headers: '' },
          { key: 'edge-tombstone', size: 0, value: 'NULL', headers: '' },
          { key: 'edge-repeated-header', size: 10, value: 'two values', headers: 'tag=second' },
        ]);
        expect(real.edges.kafkajs.map(({ key, value, headers }) => ({ key, value, headers }))).toEqual([
          { key: 'edge-kcat-tombstone', value: null, headers: [] },
          { key: 'edge-tombstone', value: null, headers: [] },
          { key: 'edge-repeated-header', value: 'two values', headers: [['tag', ['first', 'second']]] },
        ]);
        expect(ours.edges.kafkajs.map(({ key, value, headers }) => ({ key, value, headers }))).toEqual([
          { key: 'edge-kcat-tombstone', value: '', headers: [] },
          { key: 'edge-tombstone', value: '', headers: [] },
          { key: 'edge-repeated-header', value: 'two values', headers: [['tag', 'second']] },
        ]);
        // Apart from those, positions and timestamps of the edge records agree too.
        const positions = (edges: typeof real.edges) =>
          edges.kcat.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp: timestamp.startsWith('T0') ? timestamp : 'clock' }));
        expect(positions(ours.edges)).toEqual(positions(real.edges));

        const { edges: _realEdges, ...realRest } = real;
        const { edges: _ourEdges, ...ourRest } = ours;
        expectSameParts(ourRest, realRest);
      }), TEST_TIMEOUT_MS);
  });

  describe('when three consumers join a group one after another and one of them leaves', () => {
    it('should cover every partition at each step, consume every record exactly once and commit up to the end', () =>
      differential(async () => {
        const topic = uniqueName('group');
        const groupId = uniqueName('trio');
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 3);
          const kafka = target.kafka('differential-group');
          const admin = kafka.admin();
          const producer = kafka.producer();
          const consumers: kafkajs.Consumer[] = [];
          const consumed: Array<{ member: number; partition: number; offset: number; value: string }> = [];
          const phases: Array<{ phase: string; members: number; partitionsPerMember: number[]; consumingMembers: number }> = [];
          let produced = 0;
          const endOffsets = async () => (await admin.fetchTopicOffsets(topic)).sort(byPartition).map((entry) => Number(entry.high));
          const committed = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.sort(byPartition).map((entry) => Number(entry.offset));
          const describeGroup = async () => {
            const [group] = (await admin.describeGroups([groupId])).groups;
            return { state: group!.state, protocolType: group!.protocolType, protocol: group!.protocol, members: group!.members.length };
          };
          /** The group's assignment once it is stable with `members` members splitting all three partitions between them. */
          const stableAssignment = async (members: number) => {
            let assignment: number[][] = [];
            await waitUntil(
              async () => {
                const [group] = (await admin.describeGroups([groupId])).groups;
                if (group?.state !== 'Stable' || group.members.length !== members) return false;
                assignment = group.members.map((member) => kafkajs.AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[topic] ?? []);
                return [...assignment.flat()].sort().join() === '0,1,2';
              },
              `${target.name}: a stable group of ${members} covering every partition`,
              { intervalMs: 200 },
            );
            return assignment;
          };
          const phase = async (name: string, members: number) => {
            const assignment = await stableAssignment(members);
            // Produced once the group is stable and committed once consumed, so no record straddles a rebalance:
            // the membership changes only between phases.
            const messages = Array.from({ length: 12 }, (_, i) => ({ partition: i % 3, key: `${name}-${i}`, value: `${name}-${i}` }));
            await producer.send({ topic, messages });
            produced += messages.length;
            await waitUntil(() => consumed.length >= produced, `${target.name}: the records of phase ${name}`);
            const ends = await endOffsets();
            await waitUntil(async () => (await committed()).join() === ends.join(), `${target.name}: the offsets of phase ${name} committed`, { intervalMs: 200 });
            phases.push({
              phase: name,
              members,
              partitionsPerMember: assignment.map((partitions) => partitions.length).sort(),
              consumingMembers: new Set(consumed.filter((record) => record.value.startsWith(`${name}-`)).map((record) => record.member)).size,
            });
          };
          const join = async (member: number) => {
            // The broker's minimum session timeout is 6 s; heartbeats every 300 ms notice a rebalance quickly.
            const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 250 });
            consumers[member] = consumer;
            await consumer.connect();
            await consumer.subscribe({ topic, fromBeginning: true });
            await consumer.run({
              eachMessage: async ({ partition, message }) => void consumed.push({ member, partition, offset: Number(message.offset), value: message.value!.toString() }),
            });
          };
          try {
            await admin.connect();
            await producer.connect();
            await join(0);
            await phase('one-member', 1);
            await join(1);
            await phase('two-members', 2);
            await join(2);
            await phase('three-members', 3);
            await consumers[2]!.disconnect();
            await phase('after-one-left', 2);
            const whileTwo = await describeGroup();
            await Promise.all([consumers[0]!.disconnect(), consumers[1]!.disconnect()]);
            const afterAllLeft = await describeGroup();
            const positions = consumed.map((record) => `${record.partition}:${record.offset}`);
            const ends = await endOffsets();
            const expected = ends.flatMap((end, partition) => Array.from({ length: end }, (_, offset) => `${partition}:${offset}`));
            return {
              phases,
              consumed: positions.length,
              duplicates: positions.length - new Set(positions).size,
              missing: expected.filter((position) => !positions.includes(position)),
              endOffsets: ends,
              committed: await committed(),
              whileTwo,
              afterAllLeft,
            };
          } finally {
            await Promise.all(consumers.map((consumer) => consumer.disconnect().catch(() => undefined)));
            await producer.disconnect().catch(() => undefined);
            await admin.disconnect().catch(() => undefined);
          }
        });

        expect(real.phases.map((phase) => phase.partitionsPerMember)).toEqual([[3], [1, 2], [1, 1, 1], [1, 2]]);
        expect(real.phases.map((phase) => phase.consumingMembers)).toEqual([1, 2, 3, 2]);
        expect(real).toMatchObject({ consumed: 48, duplicates: 0, missing: [], endOffsets: [16, 16, 16], committed: [16, 16, 16] });
        expect(real.whileTwo).toEqual({ state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner', members: 2 });
        expect(real.afterAllLeft).toMatchObject({ state: 'Empty', members: 0 });
        expect(ours).toEqual(real);
      }), TEST_TIMEOUT_MS);
  });

  describe('when an idempotent producer sends, retries a batch and skips a sequence number', () => {
    it('should append every record once, answer the retry with its first offset and refuse the gap', () =>
      differential(async () => {
        const topic = uniqueName('idempotent');
        const rawTopic = `${topic}-raw`;
        const readBack = async (target: Target, name: string) =>
          (await kcat(['-b', target.broker, '-C', '-t', name, '-e', '-q', '-f', '%p|%o|%k|%s\n'])).trim().split('\n').sort();
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 2);
          await createTopic(target, rawTopic, 1);
          const sent = await withProducer(target, { idempotent: true, maxInFlightRequests: 1 }, async (producer) => {
            const results: kafkajs.RecordMetadata[] = [];
            for (let batch = 0; batch < 4; batch++) {
              const messages = Array.from({ length: 10 }, (_, i) => ({ key: `key-${(batch * 10 + i) % 6}`, value: `idempotent-${batch * 10 + i}` }));
              results.push(...(await producer.send({ topic, messages })));
            }
            // kafkajs lists a send's partitions in the order the broker answered them.
            return results.map(({ partition, errorCode, baseOffset }) => ({ partition, errorCode, baseOffset })).sort(bySend);
          });
          // kafkajs never retries on demand: a retried batch and a sequence gap are sent by hand, as librdkafka or the
          // Java client would after a lost answer or a lost request.
          const raw = await withRaw(target, async (client) => {
            const init = await initProducerId(client);
            const as = (baseSequence: number) => ({ producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence });
            return {
              init: { errorCode: init.errorCode, producerEpoch: init.producerEpoch, hasProducerId: init.producerId >= 0 },
              first: await rawProduce(client, rawTopic, 0, batchOf(['a', 'b', 'c'], as(0))),
              retried: await rawProduce(client, rawTopic, 0, batchOf(['a', 'b', 'c'], as(0))),
              next: await rawProduce(client, rawTopic, 0, batchOf(['d', 'e'], as(3))),
              gap: await rawProduce(client, rawTopic, 0, batchOf(['skipped'], as(9))),
              resumed: await rawProduce(client, rawTopic, 0, batchOf(['f'], as(5))),
            };
          });
          return { sent, records: await readBack(target, topic), raw, rawRecords: await readBack(target, rawTopic) };
        });

        expect(real.records).toHaveLength(40);
        expect(new Set(real.records.map((line) => line.split('|')[3])).size).toBe(40);
        expect(real.raw).toEqual({
          init: { errorCode: ErrorCode.NONE, producerEpoch: 0, hasProducerId: true },
          first: { errorCode: ErrorCode.NONE, baseOffset: 0 },
          retried: { errorCode: ErrorCode.NONE, baseOffset: 0 },
          next: { errorCode: ErrorCode.NONE, baseOffset: 3 },
          gap: { errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, baseOffset: -1 },
          resumed: { errorCode: ErrorCode.NONE, baseOffset: 5 },
        });
        expect(real.rawRecords).toEqual(['0|0||a', '0|1||b', '0|2||c', '0|3||d', '0|4||e', '0|5||f']);
        expect(ours).toEqual(real);
      }), TEST_TIMEOUT_MS);
  });

  describe('when clients list offsets: earliest, latest and by timestamp', () => {
    it('should answer the same offsets and timestamps', () =>
      differential(async () => {
        const topic = uniqueName('list-offsets');
        // Five records a partition, a second apart (plus the partition in milliseconds, to tell partitions apart).
        const at = (partition: number, i: number) => T0 + i * 1000 + partition;
        const queries = { beforeAll: T0 - 1, exact: T0 + 2000, between: T0 + 2500, afterAll: T0 + 99_000 };
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 3);
          await withProducer(target, {}, (producer) =>
            producer.send({
              topic,
              messages: [0, 1, 2].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({ partition, value: `p${partition}-${i}`, timestamp: String(at(partition, i)) }))),
            }),
          );
          const kafkajsOffsets = await withAdmin(target, async (admin) => {
            const byTimestamp: Record<string, unknown> = {};
            for (const [name, timestamp] of Object.entries(queries)) {
              byTimestamp[name] = (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp)).sort(byPartition);
            }
            const ends = (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high, offset }) => ({ partition, low, high, offset })).sort(byPartition);
            return { ends, byTimestamp };
          });
          const kcatQueries: Record<string, string[]> = {};
          for (const [name, timestamp] of Object.entries(queries)) {
            // One -t per partition: kcat keeps one timestamp per partition.
            const out = await kcat(['-b', target.broker, '-Q', ...[0, 1, 2].flatMap((partition) => ['-t', `${topic}:${partition}:${timestamp}`])]);
            kcatQueries[name] = out.trim().split('\n').sort();
          }
          const fromTimestamp = (await kcat(['-b', target.broker, '-C', '-t', topic, '-o', `s@${queries.between}`, '-e', '-q', '-f', '%p|%o|%s|%T\n']))
            .trim()
            .split('\n')
            .map((line) => line.replace(/\|(\d+)$/, (_, timestamp: string) => `|${normalizedTimestamp(Number(timestamp))}`))
            .sort();
          const raw = await withRaw(target, async (client) => ({
            earliest: await rawListOffset(client, topic, 1, -2),
            latest: await rawListOffset(client, topic, 1, -1),
            exact: await rawListOffset(client, topic, 1, at(1, 2)),
            between: await rawListOffset(client, topic, 1, queries.between),
            afterAll: await rawListOffset(client, topic, 1, queries.afterAll),
            unknownPartition: await rawListOffset(client, topic, 7, -1),
          }));
          return { kafkajs: kafkajsOffsets, kcat: kcatQueries, fromTimestamp, raw };
        });

        expect(real.kafkajs.ends, JSON.stringify(real)).toEqual([0, 1, 2].map((partition) => ({ partition, low: '0', high: '5', offset: '5' })));
        // kafkajs answers "no record at or after" (-1) with the latest offset.
        expect(real.kafkajs.byTimestamp).toEqual({
          beforeAll: [0, 1, 2].map((partition) => ({ partition, offset: '0' })),
          exact: [0, 1, 2].map((partition) => ({ partition, offset: '2' })),
          between: [0, 1, 2].map((partition) => ({ partition, offset: '3' })),
          afterAll: [0, 1, 2].map((partition) => ({ partition, offset: '5' })),
        });
        expect(real.kcat.afterAll).toEqual([0, 1, 2].map((partition) => `${topic} [${partition}] offset -1`));
        expect(real.raw).toEqual({
          earliest: { errorCode: ErrorCode.NONE, timestamp: -1, offset: 0 },
          latest: { errorCode: ErrorCode.NONE, timestamp: -1, offset: 5 },
          exact: { errorCode: ErrorCode.NONE, timestamp: at(1, 2), offset: 2 },
          between: { errorCode: ErrorCode.NONE, timestamp: at(1, 3), offset: 3 },
          afterAll: { errorCode: ErrorCode.NONE, timestamp: -1, offset: -1 },
          unknownPartition: { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 },
        });
        expect(ours).toEqual(real);
      }), TEST_TIMEOUT_MS);
  });

  describe('when a consumer commits offsets and admin fetches them', () => {
    it('should store the same offsets, resume from them, and answer -1 where nothing was committed', () =>
      differential(async () => {
        const topic = uniqueName('commits');
        const groupId = uniqueName('committers');
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 3);
          await withProducer(target, {}, (producer) =>
            producer.send({ topic, messages: [0, 1, 2].flatMap((partition) => Array.from({ length: 10 }, (_, i) => ({ partition, value: `p${partition}-${i}` }))) }),
          );
          const consume = async (expected: number, commit?: (consumer: kafkajs.Consumer) => Promise<void>) => {
            const consumed: Array<{ partition: number; offset: number }> = [];
            const consumer = target.kafka('differential-commits').consumer({ groupId, maxWaitTimeInMs: 250 });
            try {
              await consumer.connect();
              await consumer.subscribe({ topic, fromBeginning: true });
              await consumer.run({
                autoCommit: commit === undefined,
                eachMessage: async ({ partition, message }) => void consumed.push({ partition, offset: Number(message.offset) }),
              });
              await waitUntil(() => consumed.length >= expected, `${target.name}: ${expected} records consumed`);
              await commit?.(consumer);
            } finally {
              await consumer.disconnect();
            }
            return consumed.sort(byPosition);
          };
          // Everything is read, but only partition 0 (with a metadata string) and partition 1 are committed.
          await consume(30, (consumer) =>
            retryRetriable(`${target.name}: committing offsets`, () =>
              consumer.commitOffsets([
                { topic, partition: 0, offset: '4', metadata: 'checkpoint-a' },
                { topic, partition: 1, offset: '10' },
              ]),
            ),
          );
          const fetched = await withAdmin(target, async (admin) => ({
            committed: (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.sort(byPartition),
            neverCommitted: (await admin.fetchOffsets({ groupId: uniqueName('idle'), topics: [topic] }))[0]!.partitions.sort(byPartition),
          }));
          // The group resumes where it committed: partition 0 from 4, nothing of partition 1, partition 2 from the start.
          const resumed = await consume(16);
          const afterResume = await withAdmin(target, async (admin) => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.sort(byPartition));
          // An admin reset commits -2 ("earliest") for every partition: the group reads it back and starts over.
          const afterReset = await withAdmin(target, async (admin) => {
            await admin.resetOffsets({ groupId, topic, earliest: true });
            return (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.sort(byPartition);
          });
          const reread = await consume(30);
          return { ...fetched, resumed, afterResume, afterReset, reread: reread.length };
        });

        // Documented difference: offset metadata strings are not kept.
        expect(real.committed).toEqual([
          { partition: 0, offset: '4', metadata: 'checkpoint-a' },
          { partition: 1, offset: '10', metadata: null },
          { partition: 2, offset: '-1', metadata: null },
        ]);
        expect(ours.committed).toEqual([
          { partition: 0, offset: '4', metadata: null },
          { partition: 1, offset: '10', metadata: null },
          { partition: 2, offset: '-1', metadata: null },
        ]);
        expect(real.neverCommitted.map((entry) => entry.offset)).toEqual(['-1', '-1', '-1']);
        expect(real.resumed).toEqual([
          ...Array.from({ length: 6 }, (_, i) => ({ partition: 0, offset: 4 + i })),
          ...Array.from({ length: 10 }, (_, i) => ({ partition: 2, offset: i })),
        ]);
        expect(real.afterResume.map((entry) => entry.offset)).toEqual(['10', '10', '10']);
        expect(real.afterReset.map((entry) => entry.offset)).toEqual(['-2', '-2', '-2']);
        expect(real.reread).toBe(30);
        const { committed: _real, ...realRest } = real;
        const { committed: _ours, ...ourRest } = ours;
        expectSameParts(ourRest, realRest);
      }), TEST_TIMEOUT_MS);
  });

  describe('when a client fetches past the end of a partition', () => {
    it('should answer OFFSET_OUT_OF_RANGE, which kcat and kafkajs resolve by resetting their offset', () =>
      differential(async () => {
        const topic = uniqueName('past-end');
        const { real, front: ours } = await onBoth(async (target) => {
          await createTopic(target, topic, 1);
          await withProducer(target, {}, (producer) => producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) }));
          const raw = await withRaw(target, async (client) => ({
            pastEnd: await fetchOnePartition(client, topic, 0, 15, { maxWaitMs: 100 }),
            atEnd: await fetchOnePartition(client, topic, 0, 10, { maxWaitMs: 100 }),
          }));
          const kcatDefault = kcatOutcome(await runKcat(['-b', target.broker, '-C', '-t', topic, '-o', '15', '-e', '-f', '%o|%s\n']), target);
          const kcatNoReset = kcatOutcome(await runKcat(['-b', target.broker, '-C', '-t', topic, '-o', '15', '-e', '-X', 'auto.offset.reset=error', '-f', '%o|%s\n']), target);

          // kafkajs reads to the end, seeks past it, and resets to its default offset (earliest, with fromBeginning).
          const offsets: number[] = [];
          const groupId = uniqueName('seekers');
          const consumer = target.kafka('differential-seek').consumer({ groupId, maxWaitTimeInMs: 250 });
          try {
            await consumer.connect();
            await consumer.subscribe({ topic, fromBeginning: true });
            await consumer.run({ eachMessage: async ({ message }) => void offsets.push(Number(message.offset)) });
            await waitUntil(() => offsets.length >= 10, `${target.name}: the first read`);
            consumer.seek({ topic, partition: 0, offset: '15' });
            await waitUntil(() => offsets.length >= 20, `${target.name}: the read after the reset`);
          } finally {
            await consumer.disconnect();
          }
          const committed = await withAdmin(target, async (admin) => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((entry) => entry.offset));
          return { raw, kcatDefault, kcatNoReset, kafkajs: { offsets, committed } };
        });

        // No offsets with the error, and empty (not null) records.
        expect(real.raw.pastEnd).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, recordBytes: 0 });
        expect(real.raw.atEnd).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 10, lastStableOffset: 10, logStartOffset: 0, recordBytes: 0 });
        // kcat resets to the end (auto.offset.reset=largest) and exits there, or fails when told not to reset.
        expect(real.kcatDefault).toEqual({
          code: 0,
          stdout: [],
          stderr: [
            `%4|<time>|OFFSET|rdkafka#consumer-1| [thrd:main]: ${topic} [0]: offset reset (at offset 15, broker <id>) to END: fetch failed due to requested offset not available on the broker: Broker: Offset out of range`,
            `% Reached end of topic ${topic} [0] at offset 10: exiting`,
          ],
        });
        expect(real.kcatNoReset).toEqual({
          code: 1,
          stdout: [],
          stderr: [`% ERROR: Topic ${topic} [0] error: fetch failed due to requested offset not available on the broker: Broker: Offset out of range (broker <id>)`],
        });
        // kafkajs commits -2 ("earliest") and reads everything again.
        expect(real.kafkajs).toEqual({ offsets: [...Array(10).keys(), ...Array(10).keys()], committed: ['10'] });
        expect(ours).toEqual(real);
      }), TEST_TIMEOUT_MS);
  });

  describe('when clients name a topic that does not exist, auto-creation being off on both', () => {
    it('should answer UNKNOWN_TOPIC_OR_PARTITION to metadata and produce requests, and create nothing', () =>
      differential(async () => {
        const topic = uniqueName('unknown');
        const { real, front: ours } = await onBoth(async (target) => {
          // Few retries: the answer is the same each time.
          const kafka = target.kafka('differential-unknown', { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });
          const producer = kafka.producer();
          await producer.connect();
          const send = await producer
            .send({ topic, messages: [{ value: 'lost' }] })
            .then(() => 'sent', errorShape)
            .finally(() => producer.disconnect());
          const admin = kafka.admin();
          await admin.connect();
          const metadata = await admin
            .fetchTopicMetadata({ topics: [topic] })
            .then(() => 'found', errorShape)
            .finally(() => admin.disconnect());
          const consumer = kafka.consumer({ groupId: uniqueName('unknown-readers') });
          await consumer.connect();
          const subscribe = await consumer
            .subscribe({ topic, fromBeginning: true })
            .then(() => 'subscribed', errorShape)
            .finally(() => consumer.disconnect());
          const kcatMeta = await kcatMetadata(target, topic);
          // librdkafka waits topic.metadata.propagation.max.ms (30 s) for a new topic to appear before failing.
          const kcatProduce = kcatOutcome(await runKcat(['-b', target.broker, '-P', '-t', topic, '-X', 'topic.metadata.propagation.max.ms=1000'], 'lost\n'), target);
          const raw = await withRaw(target, async (client) => ({
            metadata: await rawMetadata(client, topic),
            produce: await rawProduce(client, topic, 0, batchOf(['lost'], { producerId: -1, producerEpoch: -1, baseSequence: -1 })),
          }));
          const listed = await withAdmin(target, async (listing) => (await listing.listTopics()).includes(topic));
          return { send, metadata, subscribe, kcatMeta, kcatProduce, raw, listed };
        });

        expect(real.send).toEqual({
          error: { name: 'KafkaJSNumberOfRetriesExceeded', type: null, retriable: false },
          cause: { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true },
        });
        expect(real.metadata).toEqual({ error: { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true }, cause: null });
        expect(real.subscribe).not.toBe('subscribed');
        expect(real.kcatProduce).toEqual({ code: 1, stdout: [], stderr: ['% Delivery failed for message: Broker: Unknown topic or partition'] });
        expect(real.raw).toEqual({
          metadata: { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: topic, partitions: 0 },
          produce: { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1 },
        });
        expect(real.kcatMeta.topics).toEqual([{ topic, error: 'Broker: Unknown topic or partition', partitions: [] }]);
        expect(real.listed).toBe(false);
        expect(ours).toEqual(real);
      }), TEST_TIMEOUT_MS);
  });
});

const byPartition = (a: { partition: number }, b: { partition: number }) => a.partition - b.partition;
const bySend = (a: { partition: number; baseOffset?: string }, b: { partition: number; baseOffset?: string }) =>
  a.partition - b.partition || Number(a.baseOffset) - Number(b.baseOffset);
