import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_VERSIONS } from '../src/api-versions.js';
import { ProtocolWriter } from '../src/protocol-writer.js';
import { RawKafkaClient } from './raw-kafka-client.js';
import { readEverything, startTestServer, waitFor, type TestServer } from './kafka-test-server.js';

const MAX_FRAME_BYTES = 64 * 1024;
let harness: TestServer;
let before: string[];

beforeAll(async () => {
  harness = await startTestServer({ maxFrameBytes: MAX_FRAME_BYTES, autoCreateTopics: false });
  await harness.eventLog.createTopic('precious', { partitions: 2 });
  await harness.eventLog.append('precious', Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
  before = (await readEverything(harness.eventLog, 'precious')).map((record) => `${record.partition}:${record.offset}:${record.key}:${record.value}`);
});
afterAll(async () => {
  await harness.stop();
});

const supportedRequest = fc
  .constantFrom(...[...SUPPORTED_VERSIONS].flatMap(([apiKey, range]) => Array.from({ length: range.max - range.min + 1 }, (_, i) => [apiKey, range.min + i] as const)))
  .chain(([apiKey, apiVersion]) =>
    fc.uint8Array({ maxLength: 300 }).map((body) =>
      new ProtocolWriter().int16(apiKey).int16(apiVersion).int32(1).nullableString('fuzz').raw(Buffer.from(body)).toBuffer(),
    ),
  );

/** What goes on the wire: a well-sized frame of random bytes or of a real header and a random body, or raw bytes with any size. */
const wireBytes = fc.oneof(
  supportedRequest.map((payload) => ({ framed: true, bytes: payload })),
  fc.uint8Array({ maxLength: 200 }).map((payload) => ({ framed: true, bytes: Buffer.from(payload) })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((raw) => ({ framed: false, bytes: Buffer.from(raw) })),
  supportedRequest.chain((payload) => fc.nat(payload.length).map((cut) => ({ framed: false, bytes: sizePrefixed(payload).subarray(0, 4 + cut) }))),
);

function sizePrefixed(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

describe('when random and truncated frames hit the port', () => {
  it('should stay up and leave the log intact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wireBytes, { minLength: 1, maxLength: 5 }), async (sends) => {
        const client = await RawKafkaClient.connect(harness.server.port);
        try {
          for (const send of sends) {
            if (client.closed) break;
            if (send.framed) client.send(send.bytes);
            else client.writeRaw(send.bytes);
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        } finally {
          client.close();
        }
      }),
      { numRuns: 150 },
    );

    const after = (await readEverything(harness.eventLog, 'precious')).map((record) => `${record.partition}:${record.offset}:${record.key}:${record.value}`);
    expect(after).toEqual(before);

    const kafka = harness.kafka('after-fuzz');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'precious', messages: [{ key: 'new', value: 'still serving' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'after-fuzz', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'precious', fromBeginning: true });
    const values: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await waitFor(() => values.length >= before.length + 1, 15_000, 'every record consumed after the fuzzing');
    await consumer.disconnect();
    expect(values.sort()).toEqual([...before.map((entry) => entry.split(':')[3]!), 'still serving'].sort());
  });
});

describe('when a frame has a negative or oversized length', () => {
  it('should close only that connection', async () => {
    const bystander = await RawKafkaClient.connect(harness.server.port);
    try {
      for (const size of [-1, MAX_FRAME_BYTES + 1]) {
        const offender = await RawKafkaClient.connect(harness.server.port);
        const header = Buffer.alloc(4);
        header.writeInt32BE(size);
        offender.writeRaw(header);
        await offender.waitClosed();
        expect(offender.closed).toBe(true);
      }
      const answer = await bystander.request(18, 0, () => undefined);
      expect(answer.int16()).toBe(0);
      expect(bystander.closed).toBe(false);
    } finally {
      bystander.close();
    }
  });
});
