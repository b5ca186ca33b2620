import kafkajs from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/api-versions.js';
import { ErrorCode } from '../src/error-codes.js';
import type { ProtocolReader } from '../src/protocol-reader.js';
import type { ProtocolWriter } from '../src/protocol-writer.js';
import { encodeRecordBatch } from '../src/record-batch-codec.js';
import { kcat, kcatSkipReason, runKcat } from './kcat-runner.js';
import { readEverything, startTestServer, waitFor, type TestServer } from './kafka-test-server.js';
import { RawKafkaClient } from './raw-kafka-client.js';
import { describeWhenAvailable } from '@lambda/test-kit';

const TOKEN = 'the-platform-token-0123456789';


let harness: TestServer;
const clients: RawKafkaClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await harness.stop();
});

async function connect(): Promise<RawKafkaClient> {
  const client = await RawKafkaClient.connect(harness.server.port);
  clients.push(client);
  return client;
}

function plainToken(username: string, password: string, authorizationId = ''): Buffer {
  return Buffer.from(`${authorizationId}\0${username}\0${password}`);
}

async function handshake(client: RawKafkaClient, version: number, mechanism: string): Promise<{ errorCode: number; mechanisms: string[] }> {
  const response = await client.request(ApiKey.SaslHandshake, version, (writer) => writer.string(mechanism));
  return { errorCode: response.int16(), mechanisms: response.array((entry) => entry.string()) };
}

/** SaslAuthenticate at `version`; v2 is flexible: tagged fields close the request header and the body, and lengths are compact. */
async function authenticate(client: RawKafkaClient, version: number, token: Buffer): Promise<{ errorCode: number; message: string | null }> {
  const flexible = version >= 2;
  const response = await client.request(ApiKey.SaslAuthenticate, version, (writer) => {
    if (flexible) writer.noTaggedFields().compactBytes(token).noTaggedFields();
    else writer.bytes(token);
  });
  if (flexible) response.skipTaggedFields();
  const errorCode = response.int16();
  const message = flexible ? compactNullableString(response) : response.nullableString();
  if (flexible) response.raw(response.unsignedVarint() - 1);
  else response.bytes();
  if (version >= 1) expect(response.int64()).toBe(0);
  if (flexible) response.skipTaggedFields();
  expect(response.remaining).toBe(0);
  return { errorCode, message };
}

function compactNullableString(reader: ProtocolReader): string | null {
  const length = reader.unsignedVarint() - 1;
  return length < 0 ? null : reader.raw(length).toString();
}

/** A raw connection that authenticated as librdkafka does: handshake v1, then SaslAuthenticate. */
async function authenticatedClient(): Promise<RawKafkaClient> {
  const client = await connect();
  expect((await handshake(client, 1, 'PLAIN')).errorCode).toBe(ErrorCode.NONE);
  expect((await authenticate(client, 1, plainToken('raw', TOKEN))).errorCode).toBe(ErrorCode.NONE);
  return client;
}

/** Metadata v8 naming `topics` (null: every topic); resolves with each topic's name and error code. */
async function metadata(client: RawKafkaClient, topics: string[] | null): Promise<Array<[string, number]>> {
  const response = await client.request(ApiKey.Metadata, 8, (writer) => {
    if (topics === null) writer.int32(-1);
    else writer.array(topics, (topic, name) => topic.string(name));
    writer.boolean(true).boolean(false).boolean(false);
  });
  response.int32();
  response.array((broker) => [broker.int32(), broker.string(), broker.int32(), broker.nullableString()]);
  response.nullableString();
  response.int32();
  return response.array((topic) => {
    const errorCode = topic.int16();
    const name = topic.string();
    topic.boolean();
    topic.array((partition) => {
      partition.int16();
      partition.int32();
      partition.int32();
      partition.int32();
      partition.array((replica) => replica.int32());
      partition.array((replica) => replica.int32());
      partition.array((replica) => replica.int32());
    });
    topic.int32();
    return [name, errorCode];
  });
}

/** Produce v7 of one batch of `values` to one partition; resolves with the partition's error code. */
async function produce(client: RawKafkaClient, topic: string, values: string[]): Promise<number> {
  const records = encodeRecordBatch(
    values.map((value, i) => ({ offset: i, timestamp: Date.now(), key: null, value: Buffer.from(value), headers: {} })),
  );
  const response = await client.request(ApiKey.Produce, 7, (writer) =>
    writer
      .nullableString(null)
      .int16(-1)
      .int32(5000)
      .array([topic], (t, name) => t.string(name).array([0], (p, index) => p.int32(index).nullableBytes(records))),
  );
  response.int32();
  response.string();
  response.int32();
  response.int32();
  return response.int16();
}

async function topicNames(): Promise<string[]> {
  return (await harness.eventLog.listTopics()).map((topic) => topic.name).sort();
}

describe('when the server requires a token', () => {
  beforeEach(async () => {
    harness = await startTestServer({ auth: { secret: TOKEN } });
    await harness.eventLog.createTopic('pageviews', { partitions: 2 });
  });

  describe('and a kafkajs client authenticates with SASL/PLAIN', () => {
    it('should produce records the log holds and consume them back in a group', async () => {
      const kafka = harness.kafka('sasl-client', { sasl: { mechanism: 'plain', username: 'dashboard', password: TOKEN } });
      const producer = kafka.producer();
      await producer.connect();
      const sent = Array.from({ length: 20 }, (_, i) => ({ key: `user-${i % 4}`, value: `view-${i}` }));
      await producer.send({ topic: 'pageviews', messages: sent });
      await producer.disconnect();
      const stored = await readEverything(harness.eventLog, 'pageviews');
      expect(stored.map((record) => record.value.toString()).sort()).toEqual(sent.map((message) => message.value).sort());

      const consumer = kafka.consumer({ groupId: 'sasl-readers', maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'pageviews', fromBeginning: true });
      const consumed: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void consumed.push(message.value!.toString()) });
      await waitFor(() => consumed.length >= sent.length, 15_000, 'every record consumed');
      await consumer.disconnect();
      expect(consumed.sort()).toEqual(sent.map((message) => message.value).sort());
      const committed = await harness.eventLog.committedOffsets('sasl-readers', 'pageviews');
      expect([...committed.values()].reduce((sum, offset) => sum + offset, 0)).toBe(sent.length);
    });
  });

  describe('and a kafkajs client brings no credentials', () => {
    it('should see no topics and have its produce refused with TOPIC_AUTHORIZATION_FAILED, appending nothing', async () => {
      const kafka = harness.kafka('anonymous');
      const admin = kafka.admin();
      await admin.connect();
      expect(await admin.listTopics()).toEqual([]);
      await admin.disconnect();

      const producer = kafka.producer();
      await producer.connect();
      await expect(producer.send({ topic: 'pageviews', messages: [{ value: 'sneaky' }] })).rejects.toMatchObject({ cause: { type: 'TOPIC_AUTHORIZATION_FAILED' } });
      await producer.disconnect();
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([0, 0]);
    });
  });

  describe('and a kafkajs client brings a wrong password', () => {
    it('should fail to connect with a SASL authentication error', async () => {
      const producer = harness.kafka('impostor', { sasl: { mechanism: 'plain', username: 'dashboard', password: 'not-the-token' } }).producer();
      const refused = await producer.connect().then(
        () => null,
        (error: Error) => error,
      );
      expect(refused).toBeInstanceOf(kafkajs.KafkaJSSASLAuthenticationError);
      expect(refused!.message).toMatch(/Authentication failed: Invalid username or password/);
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([0, 0]);
    });
  });

  describeWhenAvailable('and kcat (librdkafka) produces', kcatSkipReason, () => {
    const sasl = (password: string) => ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=u', '-X', `sasl.password=${password}`];
    // librdkafka keeps failed messages for 5 minutes by default: a refusal must end kcat sooner.
    const produceArgs = () => ['-b', harness.broker, '-t', 'pageviews', '-P', '-K', ':', '-X', 'message.timeout.ms=5000'];
    const lines = ['k1:first', 'k2:second', 'k3:third'];

    it('should append its lines when it authenticates, and consume them back', async () => {
      await kcat([...produceArgs(), ...sasl(TOKEN)], `${lines.join('\n')}\n`);
      const stored = await readEverything(harness.eventLog, 'pageviews');
      expect(stored.map((record) => `${record.key!.toString()}:${record.value.toString()}`).sort()).toEqual(lines);
      const consumed = await kcat(['-b', harness.broker, '-t', 'pageviews', '-C', '-e', '-q', '-f', '%k:%s\n', ...sasl(TOKEN)]);
      expect(consumed.trim().split('\n').sort()).toEqual(lines);
    });

    it('should have its lines refused with a topic authorization error without credentials, appending nothing', async () => {
      const run = await runKcat(produceArgs(), `${lines.join('\n')}\n`);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/Topic authorization failed/);
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([0, 0]);
    });

    it('should fail authentication with a wrong password, appending nothing', async () => {
      const run = await runKcat([...produceArgs(), ...sasl('not-the-token')], `${lines.join('\n')}\n`);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/SASL authentication error: Authentication failed/);
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([0, 0]);
    });

    it('should not create a topic it produces to', async () => {
      const run = await runKcat(['-b', harness.broker, '-t', 'brand-new', '-P', '-X', 'message.timeout.ms=1000', ...sasl(TOKEN)], 'hello\n');
      expect(run.stderr).toMatch(/Delivery failed/);
      expect(await topicNames()).toEqual(['pageviews']);
    });
  });

  describe('and a client speaks the protocol before authenticating', () => {
    it('should advertise SaslHandshake v0-v1 and SaslAuthenticate v0-v2 in ApiVersions', async () => {
      const client = await connect();
      const response = await client.request(ApiKey.ApiVersions, 2, () => undefined);
      expect(response.int16()).toBe(ErrorCode.NONE);
      const ranges = new Map(response.array((entry) => [entry.int16(), [entry.int16(), entry.int16()]] as const));
      expect(ranges.get(ApiKey.SaslHandshake)).toEqual([0, 1]);
      expect(ranges.get(ApiKey.SaslAuthenticate)).toEqual([0, 2]);
    });

    it('should answer every other API with its authorization error, and read, write, create or commit nothing', async () => {
      await harness.eventLog.append('pageviews', [{ value: 'private', partition: 0 }]);
      const client = await connect();
      const throttleThenError = (response: ProtocolReader) => {
        response.int32();
        return [response.int16()];
      };
      /** Skips throttle_time_ms, then one topic and one partition (topic name, partition index) down to the partition's error code. */
      const firstPartitionError = (response: ProtocolReader) => {
        response.int32();
        response.int32();
        response.string();
        response.int32();
        response.int32();
        return [response.int16()];
      };
      const refusals: Array<{ api: string; apiKey: number; version: number; body: (writer: ProtocolWriter) => void; errors: (response: ProtocolReader) => number[]; expected: number[] }> = [
        {
          api: 'Fetch',
          apiKey: ApiKey.Fetch,
          version: 11,
          body: (w) =>
            w.int32(-1).int32(0).int32(1).int32(1 << 20).int8(0).int32(0).int32(-1)
              .array(['pageviews'], (t, name) => t.string(name).array([0], (p, index) => p.int32(index).int32(-1).int64(0).int64(-1).int32(1 << 20)))
              .array([], () => undefined)
              .string(''),
          errors: (r) => {
            r.int32();
            r.int16(); // top-level error: NONE, the refusal is per partition
            r.int32();
            r.int32();
            r.string();
            r.int32();
            r.int32();
            return [r.int16()];
          },
          expected: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        },
        {
          api: 'ListOffsets',
          apiKey: ApiKey.ListOffsets,
          version: 5,
          body: (w) => w.int32(-1).int8(0).array(['pageviews'], (t, name) => t.string(name).array([0], (p, index) => p.int32(index).int32(-1).int64(-1))),
          errors: firstPartitionError,
          expected: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        },
        {
          api: 'CreateTopics',
          apiKey: ApiKey.CreateTopics,
          version: 4,
          body: (w) => w.array(['created-by-stranger'], (t, name) => t.string(name).int32(1).int16(1).int32(0).int32(0)).int32(5000).boolean(false),
          errors: (r) => {
            r.int32();
            r.int32();
            r.string();
            return [r.int16()];
          },
          expected: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        },
        {
          api: 'OffsetCommit',
          apiKey: ApiKey.OffsetCommit,
          version: 7,
          body: (w) =>
            w.string('strangers').int32(-1).string('').nullableString(null)
              .array(['pageviews'], (t, name) => t.string(name).array([0], (p, index) => p.int32(index).int64(1).int32(-1).nullableString(null))),
          errors: firstPartitionError,
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'OffsetFetch',
          apiKey: ApiKey.OffsetFetch,
          version: 5,
          body: (w) => w.string('strangers').array(['pageviews'], (t, name) => t.string(name).array([0], (p, index) => p.int32(index))),
          errors: (r) => {
            r.int32();
            const partitionErrors = r.array((t) => {
              t.string();
              return t.array((p) => {
                p.int32();
                p.int64();
                p.int32();
                p.nullableString();
                return p.int16();
              });
            });
            return [...partitionErrors.flat(), r.int16()]; // and the top-level error (v2+)
          },
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        { api: 'InitProducerId', apiKey: ApiKey.InitProducerId, version: 1, body: (w) => w.nullableString(null).int32(60_000), errors: throttleThenError, expected: [ErrorCode.CLUSTER_AUTHORIZATION_FAILED] },
        { api: 'FindCoordinator', apiKey: ApiKey.FindCoordinator, version: 2, body: (w) => w.string('strangers').int8(0), errors: throttleThenError, expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED] },
        {
          api: 'JoinGroup',
          apiKey: ApiKey.JoinGroup,
          version: 5,
          body: (w) =>
            w.string('strangers').int32(10_000).int32(10_000).string('').nullableString(null).string('consumer')
              .array(['range'], (p, name) => p.string(name).bytes(Buffer.from('meta'))),
          errors: throttleThenError,
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'SyncGroup',
          apiKey: ApiKey.SyncGroup,
          version: 3,
          body: (w) => w.string('strangers').int32(1).string('member').nullableString(null).array([], () => undefined),
          errors: throttleThenError,
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'Heartbeat',
          apiKey: ApiKey.Heartbeat,
          version: 3,
          body: (w) => w.string('strangers').int32(1).string('member').nullableString(null),
          errors: throttleThenError,
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'LeaveGroup',
          apiKey: ApiKey.LeaveGroup,
          version: 3,
          body: (w) => w.string('strangers').array(['member'], (m, id) => m.string(id).nullableString(null)),
          errors: (r) => {
            const groupError = throttleThenError(r);
            const memberErrors = r.array((m) => {
              m.string();
              m.nullableString();
              return m.int16();
            });
            return [...groupError, ...memberErrors];
          },
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'DescribeGroups',
          apiKey: ApiKey.DescribeGroups,
          version: 2,
          body: (w) => w.array(['strangers'], (g, id) => g.string(id)),
          errors: (r) => {
            r.int32();
            r.int32();
            return [r.int16()];
          },
          expected: [ErrorCode.GROUP_AUTHORIZATION_FAILED],
        },
        {
          api: 'ListGroups',
          apiKey: ApiKey.ListGroups,
          version: 2,
          body: () => undefined,
          errors: (r) => [...throttleThenError(r), r.int32()], // and the number of groups listed
          expected: [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 0],
        },
      ];
      for (const { api, apiKey, version, body, errors, expected } of refusals) {
        expect(errors(await client.request(apiKey, version, body)), api).toEqual(expected);
      }
      expect(await produce(client, 'pageviews', ['sneaky'])).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      expect(await metadata(client, null)).toEqual([]);
      expect(await metadata(client, ['pageviews'])).toEqual([['pageviews', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);

      expect(client.closed).toBe(false);
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([1, 0]);
      expect(await topicNames()).toEqual(['pageviews']);
      expect((await harness.eventLog.committedOffsets('strangers', 'pageviews')).size).toBe(0);
    });
  });

  describe('and a client authenticates by hand', () => {
    it('should accept SaslAuthenticate v2 (flexible) with the token, and then serve the topics', async () => {
      const client = await connect();
      expect(await handshake(client, 1, 'PLAIN')).toEqual({ errorCode: ErrorCode.NONE, mechanisms: ['PLAIN'] });
      expect(await authenticate(client, 2, plainToken('anyone', TOKEN))).toEqual({ errorCode: ErrorCode.NONE, message: null });
      expect(await metadata(client, null)).toEqual([['pageviews', ErrorCode.NONE]]);
      expect(await produce(client, 'pageviews', ['hello'])).toBe(ErrorCode.NONE);
      expect(await harness.eventLog.endOffsets('pageviews')).toEqual([1, 0]);
    });

    it('should answer a wrong password with SASL_AUTHENTICATION_FAILED and a message, then close the connection', async () => {
      for (const version of [0, 1, 2]) {
        const client = await connect();
        await handshake(client, 1, 'PLAIN');
        expect(await authenticate(client, version, plainToken('anyone', `${TOKEN}x`))).toEqual({
          errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
          message: 'Authentication failed: Invalid username or password',
        });
        await client.waitClosed();
      }
    });

    it('should take the bare token after a v0 handshake, answer it with an empty frame, and close on a wrong one', async () => {
      const client = await connect();
      expect((await handshake(client, 0, 'PLAIN')).errorCode).toBe(ErrorCode.NONE);
      client.send(plainToken('legacy', TOKEN));
      expect((await client.nextFrame()).length).toBe(0);
      expect(await metadata(client, null)).toEqual([['pageviews', ErrorCode.NONE]]);

      const impostor = await connect();
      await handshake(impostor, 0, 'PLAIN');
      impostor.send(plainToken('legacy', 'guess'));
      await impostor.waitClosed();
    });

    it('should refuse another mechanism with UNSUPPORTED_SASL_MECHANISM naming PLAIN, and SaslAuthenticate before a handshake', async () => {
      const scram = await connect();
      expect(await handshake(scram, 1, 'SCRAM-SHA-256')).toEqual({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN'] });
      await scram.waitClosed();

      const early = await connect();
      expect((await authenticate(early, 1, plainToken('eager', TOKEN))).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
      await early.waitClosed();
    });

    it('should refuse a token that acts as another identity than its username', async () => {
      const client = await connect();
      await handshake(client, 1, 'PLAIN');
      expect((await authenticate(client, 1, plainToken('dashboard', TOKEN, 'admin'))).errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    });
  });
});

describe('when the server requires a username as well as the token', () => {
  beforeEach(async () => {
    harness = await startTestServer({ auth: { secret: TOKEN, username: 'ingest' } });
  });

  it('should accept that username only', async () => {
    const stranger = await connect();
    await handshake(stranger, 1, 'PLAIN');
    expect((await authenticate(stranger, 1, plainToken('someone', TOKEN))).errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    const ingest = await connect();
    await handshake(ingest, 1, 'PLAIN');
    expect((await authenticate(ingest, 1, plainToken('ingest', TOKEN))).errorCode).toBe(ErrorCode.NONE);
  });
});

describe('when the server requires no token', () => {
  beforeEach(async () => {
    harness = await startTestServer();
  });

  it('should refuse a SASL handshake, listing no mechanism', async () => {
    const client = await connect();
    expect(await handshake(client, 1, 'PLAIN')).toEqual({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [] });
  });
});

describe('when a client names a topic the log does not have', () => {
  it('should not create it by default, however the client asks', async () => {
    harness = await startTestServer({ auth: { secret: TOKEN } });
    const producer = harness.kafka('typo', { sasl: { mechanism: 'plain', username: 'u', password: TOKEN } }).producer();
    await producer.connect();
    await expect(producer.send({ topic: 'pageveiws', messages: [{ value: 'lost' }] })).rejects.toThrow(/does not host this topic-partition/);
    await producer.disconnect();
    const client = await authenticatedClient();
    expect(await produce(client, 'pageveiws', ['lost'])).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await metadata(client, ['pageveiws'])).toEqual([['pageveiws', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
    expect(await topicNames()).toEqual([]);
  });

  it('should create it from an authenticated Metadata request only, when auto-creation is on, and never from Produce', async () => {
    harness = await startTestServer({ auth: { secret: TOKEN }, autoCreateTopics: { partitions: 2 } });
    const anonymous = await connect();
    expect(await metadata(anonymous, ['fresh'])).toEqual([['fresh', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    const client = await authenticatedClient();
    expect(await produce(client, 'fresh', ['early'])).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await topicNames()).toEqual([]);
    expect(await metadata(client, ['fresh'])).toEqual([['fresh', ErrorCode.NONE]]);
    expect((await harness.eventLog.describeTopic('fresh')).partitions).toBe(2);
  });
});
