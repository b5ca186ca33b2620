import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/api-versions.js';
import { ErrorCode } from '../src/error-codes.js';
import type { ProtocolReader } from '../src/protocol-reader.js';
import { encodeRecordBatch } from '../src/record-batch-codec.js';
import { crc32c } from '../src/crc32c.js';
import { RawKafkaClient, fetchOnePartition } from './raw-kafka-client.js';
import { readEverything, startTestServer, waitFor, type TestServer } from './kafka-test-server.js';

let harness: TestServer;
let client: RawKafkaClient;
beforeEach(async () => {
  harness = await startTestServer({ autoCreateTopics: false });
  await harness.eventLog.createTopic('known', { partitions: 2 });
  client = await RawKafkaClient.connect(harness.server.port);
});
afterEach(async () => {
  client.close();
  await harness.stop();
});

function batchOf(values: string[], producer?: { producerId: number; producerEpoch: number; baseSequence: number }): Buffer {
  const now = Date.now();
  return encodeRecordBatch(
    values.map((value, i) => ({ offset: i, timestamp: now, key: null, value: Buffer.from(value), headers: {} })),
    producer,
  );
}

/** Produce v7 of one batch to one partition; resolves with [error code, base offset]. */
async function produce(topic: string, partition: number, records: Buffer): Promise<[number, number]> {
  const response = await client.request(ApiKey.Produce, 7, (writer) =>
    writer
      .nullableString(null)
      .int16(-1)
      .int32(5000)
      .array([topic], (topicWriter, name) => topicWriter.string(name).array([partition], (p, index) => p.int32(index).nullableBytes(records))),
  );
  response.int32(); // topics
  response.string();
  response.int32(); // partitions
  response.int32();
  return [response.int16(), response.int64()];
}

/** Fetch v11 of one partition; resolves with [error code, high watermark]. */
async function fetchPartition(topic: string, partition: number, offset: number): Promise<[number, number]> {
  const { errorCode, highWatermark } = await fetchOnePartition(client, topic, partition, offset);
  return [errorCode, highWatermark];
}

interface Joined {
  errorCode: number;
  generationId: number;
  memberId: string;
  leaderId: string;
}

async function join(connection: RawKafkaClient, group: string, memberId = '', sessionTimeoutMs = 10_000): Promise<Joined> {
  const response = await connection.request(ApiKey.JoinGroup, 5, (writer) =>
    writer
      .string(group)
      .int32(sessionTimeoutMs)
      .int32(sessionTimeoutMs)
      .string(memberId)
      .nullableString(null)
      .string('consumer')
      .array(['range'], (p, name) => p.string(name).bytes(Buffer.from('meta'))),
  );
  response.int32();
  const errorCode = response.int16();
  const generationId = response.int32();
  response.string();
  const leaderId = response.string();
  return { errorCode, generationId, leaderId, memberId: response.string() };
}

async function sync(connection: RawKafkaClient, group: string, generationId: number, memberId: string): Promise<number> {
  const response = await connection.request(ApiKey.SyncGroup, 3, (writer) =>
    writer.string(group).int32(generationId).string(memberId).nullableString(null).array([memberId], (a, id) => a.string(id).bytes(Buffer.from('assignment'))),
  );
  response.int32();
  return response.int16();
}

async function heartbeat(group: string, generationId: number, memberId: string): Promise<number> {
  const response = await client.request(ApiKey.Heartbeat, 3, (writer) => writer.string(group).int32(generationId).string(memberId).nullableString(null));
  response.int32();
  return response.int16();
}

/**
 * Waits until `member` hears of the rebalance another member's join starts: the join is then in the
 * coordinator's hands, however long a loaded machine took to deliver it.
 */
async function waitForRebalance(group: string, member: Joined): Promise<void> {
  await waitFor(
    async () => (await heartbeat(group, member.generationId, member.memberId)) === ErrorCode.REBALANCE_IN_PROGRESS,
    15_000,
    `a heartbeat of ${group} to answer REBALANCE_IN_PROGRESS`,
  );
}

function readApiVersions(response: ProtocolReader): { errorCode: number; ranges: Map<number, [number, number]> } {
  const errorCode = response.int16();
  const ranges = new Map(response.array((entry) => [entry.int16(), [entry.int16(), entry.int16()] as [number, number]] as const));
  return { errorCode, ranges };
}

describe('when a client asks for an API version the server does not implement', () => {
  it('should answer ApiVersions v3 with UNSUPPORTED_VERSION and the supported ranges, and keep the connection', async () => {
    const refused = readApiVersions(await client.request(ApiKey.ApiVersions, 3, (writer) => writer.unsignedVarint(0)));
    expect(refused.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(refused.ranges.get(ApiKey.ApiVersions)).toEqual([0, 2]);
    const accepted = readApiVersions(await client.request(ApiKey.ApiVersions, 2, () => undefined));
    expect(accepted.errorCode).toBe(ErrorCode.NONE);
    expect(accepted.ranges.get(ApiKey.Produce)).toEqual([3, 8]);
  });

  it('should answer other APIs with UNSUPPORTED_VERSION rather than drop the connection', async () => {
    const metadata = await client.request(ApiKey.Metadata, 99, () => undefined);
    expect(metadata.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const unknownApi = await client.request(57, 0, () => undefined);
    expect(unknownApi.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(client.closed).toBe(false);
  });
});

describe('when a client names a topic or partition the log does not have', () => {
  it('should answer UNKNOWN_TOPIC_OR_PARTITION in Metadata, Produce and Fetch', async () => {
    const metadata = await client.request(ApiKey.Metadata, 4, (writer) => writer.array(['missing'], (t, name) => t.string(name)).boolean(true));
    metadata.int32();
    metadata.array((broker) => [broker.int32(), broker.string(), broker.int32(), broker.nullableString()]);
    metadata.nullableString();
    metadata.int32();
    metadata.int32();
    expect(metadata.int16()).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('missing', 0, batchOf(['x'])))[0]).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('known', 7, batchOf(['x'])))[0]).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await fetchPartition('missing', 0, 0))[0]).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await harness.eventLog.listTopics()).map((topic) => topic.name)).toEqual(['known']);
  });
});

describe('when a fetch asks for an offset past the end', () => {
  it('should answer OFFSET_OUT_OF_RANGE without offsets, as Kafka does', async () => {
    await harness.eventLog.append('known', [{ value: 'a', partition: 1 }, { value: 'b', partition: 1 }]);
    const end = (await harness.eventLog.endOffsets('known'))[1]!;
    expect(await fetchPartition('known', 1, end + 5)).toEqual([ErrorCode.OFFSET_OUT_OF_RANGE, -1]);
    expect(await fetchPartition('known', 1, end)).toEqual([ErrorCode.NONE, end]);
  });
});

describe('when a produced batch fails its checksum or uses an unsupported codec', () => {
  it('should answer CORRUPT_MESSAGE and UNSUPPORTED_COMPRESSION_TYPE and append nothing', async () => {
    const corrupt = Buffer.from(batchOf(['one', 'two']));
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 2) ^ 0xff, corrupt.length - 2);
    expect((await produce('known', 0, corrupt))[0]).toBe(ErrorCode.CORRUPT_MESSAGE);

    const snappy = Buffer.from(batchOf(['three']));
    snappy.writeInt16BE(2, 21);
    snappy.writeUInt32BE(crc32c(snappy.subarray(21)), 17);
    expect((await produce('known', 0, snappy))[0]).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);

    expect(await harness.eventLog.endOffsets('known')).toEqual([0, 0]);
    const [errorCode, baseOffset] = await produce('known', 0, batchOf(['fine']));
    expect([errorCode, baseOffset]).toEqual([ErrorCode.NONE, 0]);
  });
});

describe('when an idempotent producer sends the same batch twice', () => {
  it('should answer the retry with the first offsets and append it once, and refuse a gap in sequences', async () => {
    const init = await client.request(ApiKey.InitProducerId, 1, (writer) => writer.nullableString(null).int32(60_000));
    init.int32();
    expect(init.int16()).toBe(ErrorCode.NONE);
    const producerId = init.int64();
    const producerEpoch = init.int16();
    await harness.eventLog.append('known', [{ value: 'before', partition: 0 }]);

    const batch = batchOf(['p1', 'p2', 'p3'], { producerId, producerEpoch, baseSequence: 0 });
    const first = await produce('known', 0, batch);
    const retry = await produce('known', 0, batch);
    expect(first).toEqual([ErrorCode.NONE, 1]);
    expect(retry).toEqual(first);
    const next = await produce('known', 0, batchOf(['p4'], { producerId, producerEpoch, baseSequence: 3 }));
    expect(next).toEqual([ErrorCode.NONE, 4]);
    const gap = await produce('known', 0, batchOf(['p9'], { producerId, producerEpoch, baseSequence: 9 }));
    expect(gap[0]).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);

    const stored = await readEverything(harness.eventLog, 'known');
    expect(stored.map((record) => record.value.toString())).toEqual(['before', 'p1', 'p2', 'p3', 'p4']);
  });
});

describe('when group members use a stale generation or an unknown member id', () => {
  it('should answer ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and REBALANCE_IN_PROGRESS as a broker does', async () => {
    const first = await join(client, 'raw-group');
    expect(first.errorCode).toBe(ErrorCode.NONE);
    expect(first.leaderId).toBe(first.memberId);
    expect(await sync(client, 'raw-group', first.generationId, first.memberId)).toBe(ErrorCode.NONE);
    expect(await heartbeat('raw-group', first.generationId, first.memberId)).toBe(ErrorCode.NONE);
    expect(await heartbeat('raw-group', first.generationId + 1, first.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await heartbeat('raw-group', first.generationId, 'nobody')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await sync(client, 'raw-group', first.generationId - 1, first.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);

    // A second member's join waits for the first to rejoin; meanwhile the first hears of the rebalance.
    const second = await RawKafkaClient.connect(harness.server.port);
    try {
      const secondJoin = join(second, 'raw-group');
      await waitForRebalance('raw-group', first);
      const rejoined = await join(client, 'raw-group', first.memberId);
      const joined = await secondJoin;
      expect([rejoined.errorCode, joined.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
      expect(joined.generationId).toBe(first.generationId + 1);
      expect(await heartbeat('raw-group', first.generationId, first.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    } finally {
      second.close();
    }
  });
});

describe('when the server shuts down while a join waits', () => {
  it('should answer the waiting join with NOT_COORDINATOR', async () => {
    const first = await join(client, 'closing-group');
    expect(await sync(client, 'closing-group', first.generationId, first.memberId)).toBe(ErrorCode.NONE);
    const second = await RawKafkaClient.connect(harness.server.port);
    try {
      const waiting = join(second, 'closing-group');
      await waitForRebalance('closing-group', first);
      const closing = harness.server.close();
      expect((await waiting).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
      await closing;
    } finally {
      second.close();
    }
  });
});

describe('when a member stops heartbeating', () => {
  it('should evict it once its session timeout passes', async () => {
    const sessionTimeoutMs = 300;
    const member = await join(client, 'quiet-group', '', sessionTimeoutMs);
    expect(await sync(client, 'quiet-group', member.generationId, member.memberId)).toBe(ErrorCode.NONE);
    expect(await heartbeat('quiet-group', member.generationId, member.memberId)).toBe(ErrorCode.NONE);
    await new Promise((resolve) => setTimeout(resolve, sessionTimeoutMs * 3));
    expect(await heartbeat('quiet-group', member.generationId, member.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});
