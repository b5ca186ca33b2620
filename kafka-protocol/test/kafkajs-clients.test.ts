import kafkajs from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_PARTITIONS } from '@lambda/core';
import { readEverything, startTestServer, waitFor, type TestServer } from './kafka-test-server.js';

let harness: TestServer;
beforeEach(async () => {
  harness = await startTestServer();
});
afterEach(async () => {
  await harness.stop();
});

function messagesFor(count: number, prefix: string) {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}-key-${i % 7}`,
    value: `${prefix}-value-${i}`,
    headers: { n: String(i) },
  }));
}

describe('when a kafkajs producer and consumer use the server', () => {
  it('should consume exactly the records produced across three partitions, as the log holds them', async () => {
    const kafka = harness.kafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const sent = messagesFor(60, 'a');
    await producer.send({ topic: 'orders', messages: sent.slice(0, 30) });
    await producer.send({ topic: 'orders', messages: sent.slice(30), compression: kafkajs.CompressionTypes.GZIP });
    await producer.disconnect();

    const stored = await readEverything(harness.eventLog, 'orders');
    expect(stored.map((record) => record.value.toString()).sort()).toEqual(sent.map((message) => message.value).sort());
    expect(new Set(stored.map((record) => record.partition)).size).toBe(3);

    const consumer = kafka.consumer({ groupId: 'readers', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const consumed: Array<{ partition: number; offset: number; key: string; value: string; n: string }> = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({
          partition,
          offset: Number(message.offset),
          key: message.key!.toString(),
          value: message.value!.toString(),
          n: message.headers!.n!.toString(),
        });
      },
    });
    await waitFor(() => consumed.length >= sent.length, 15_000, 'every record consumed');
    await consumer.disconnect();
    const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) => a.partition - b.partition || a.offset - b.offset;
    expect(consumed.sort(byPosition)).toEqual(
      stored
        .map((record) => ({
          partition: record.partition,
          offset: record.offset,
          key: record.key!.toString(),
          value: record.value.toString(),
          n: record.headers.n!.toString(),
        }))
        .sort(byPosition),
    );
  });
});

describe('when a consumer group of three members shares a topic', () => {
  it('should split the partitions, and rebalance when one leaves, consuming every record exactly once', async () => {
    const kafka = harness.kafka('group-test');
    await harness.eventLog.createTopic('events', { partitions: 3 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'events', messages: messagesFor(90, 'first') });

    const consumed: Array<{ member: number; partition: number; offset: number }> = [];
    const assignments = new Map<number, number[]>();
    const consumers = [0, 1, 2].map((member) => {
      const consumer = kafka.consumer({ groupId: 'trio', maxWaitTimeInMs: 100, heartbeatInterval: 100, sessionTimeout: 6000, rebalanceTimeout: 6000 });
      consumer.on(consumer.events.GROUP_JOIN, (event) => assignments.set(member, event.payload.memberAssignment.events ?? []));
      return consumer;
    });
    await Promise.all(
      consumers.map(async (consumer, member) => {
        await consumer.connect();
        await consumer.subscribe({ topic: 'events', fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            consumed.push({ member, partition, offset: Number(message.offset) });
          },
        });
      }),
    );
    await waitFor(
      () => consumed.length >= 90 && assignments.size === 3 && [...assignments.values()].every((partitions) => partitions.length === 1),
      20_000,
      'three members with one partition each',
    );
    expect([...assignments.values()].flat().sort()).toEqual([0, 1, 2]);

    // The leaving member commits what it consumed; the other two take over its partition from there.
    await consumers[2]!.disconnect();
    const leaverPartition = assignments.get(2)![0]!;
    await producer.send({ topic: 'events', messages: messagesFor(90, 'second') });
    await producer.disconnect();
    const endOffsets = await harness.eventLog.endOffsets('events');
    const total = endOffsets.reduce((sum, end) => sum + end, 0);
    await waitFor(() => consumed.length >= total, 20_000, 'every record consumed after the rebalance');
    // The members commit after each batch: wait for the commits of the last ones before they leave.
    const committedUpTo = async () => {
      const committed = await harness.eventLog.committedOffsets('trio', 'events');
      return endOffsets.map((_, partition) => committed.get(partition));
    };
    await waitFor(async () => JSON.stringify(await committedUpTo()) === JSON.stringify(endOffsets), 20_000, 'commits up to the end offsets');
    await Promise.all([consumers[0]!.disconnect(), consumers[1]!.disconnect()]);

    const afterLeave = consumed.filter((record) => record.member !== 2 && record.partition === leaverPartition);
    expect(afterLeave.length).toBeGreaterThan(0);
    const positions = consumed.map((record) => `${record.partition}:${record.offset}`);
    const expected = endOffsets.flatMap((end, partition) => Array.from({ length: end }, (_, offset) => `${partition}:${offset}`));
    expect(positions.sort()).toEqual(expected.sort());
    expect(await committedUpTo()).toEqual(endOffsets);
  });
});

describe('when an idempotent kafkajs producer sends', () => {
  it('should append every record once', async () => {
    await harness.eventLog.createTopic('payments', { partitions: 2 });
    const producer = harness.kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = messagesFor(40, 'pay');
    for (let i = 0; i < sent.length; i += 10) await producer.send({ topic: 'payments', messages: sent.slice(i, i + 10) });
    await producer.disconnect();
    const stored = await readEverything(harness.eventLog, 'payments');
    expect(stored.map((record) => record.value.toString()).sort()).toEqual(sent.map((message) => message.value).sort());
  });
});

describe('when kafkajs admin manages topics and offsets', () => {
  it('should create and list topics, and read and set offsets as the log holds them', async () => {
    const kafka = harness.kafka('admin-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'alpha', numPartitions: 2 }, { topic: 'beta', numPartitions: 4 }] })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic: 'alpha', numPartitions: 2 }] })).toBe(false);
      for (const numPartitions of [0, MAX_PARTITIONS + 1]) {
        const refused = await admin.createTopics({ topics: [{ topic: 'gamma', numPartitions }] }).catch((error: { errors?: Array<{ type: string }> }) => error);
        expect((refused as { errors: Array<{ type: string }> }).errors.map((error) => error.type)).toEqual(['INVALID_PARTITIONS']);
      }
      expect((await admin.listTopics()).sort()).toEqual((await harness.eventLog.listTopics()).map((topic) => topic.name).sort());
      expect((await harness.eventLog.describeTopic('beta')).partitions).toBe(4);

      await harness.eventLog.append('beta', messagesFor(25, 'b').map((message) => ({ ...message, headers: {} })));
      const ends = await harness.eventLog.endOffsets('beta');
      const starts = await harness.eventLog.startOffsets('beta');
      const offsets = await admin.fetchTopicOffsets('beta');
      expect(offsets.map((entry) => [entry.partition, Number(entry.low), Number(entry.high)]).sort()).toEqual(ends.map((end, partition) => [partition, starts[partition], end]));

      const target = ends.map((end, partition) => ({ partition, offset: String(Math.floor(end / 2)) }));
      await admin.setOffsets({ groupId: 'auditors', topic: 'beta', partitions: target });
      const committed = await harness.eventLog.committedOffsets('auditors', 'beta');
      expect([...committed].sort(([a], [b]) => a - b)).toEqual(target.map((entry) => [entry.partition, Number(entry.offset)]));
      const fetched = await admin.fetchOffsets({ groupId: 'auditors', topics: ['beta'] });
      expect(fetched[0]!.partitions.map((entry) => [entry.partition, Number(entry.offset)]).sort()).toEqual([...committed].sort(([a], [b]) => a - b));
    } finally {
      await admin.disconnect();
    }
  });
});

describe('when kafkajs admin resets a group to the earliest offsets', () => {
  it('should read back -2, as Kafka stores it, so the group consumes again from the start', async () => {
    await harness.eventLog.createTopic('rewind', { partitions: 2 });
    await harness.eventLog.append('rewind', messagesFor(10, 'w').map((message, i) => ({ ...message, partition: i % 2, headers: {} })));
    await harness.eventLog.commitOffsets('rewinders', 'rewind', new Map([[0, 5], [1, 5]]));
    const kafka = harness.kafka('rewind-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The log holds real offsets only: the front keeps the -2 until a real offset is committed over it.
      await admin.resetOffsets({ groupId: 'rewinders', topic: 'rewind', earliest: true });
      const reset = await admin.fetchOffsets({ groupId: 'rewinders', topics: ['rewind'] });
      expect(reset[0]!.partitions.map((entry) => entry.offset)).toEqual(['-2', '-2']);

      const consumer = kafka.consumer({ groupId: 'rewinders', maxWaitTimeInMs: 100 });
      const consumed: string[] = [];
      await consumer.connect();
      // kafkajs resolves a negative committed offset with its default: the earliest, with fromBeginning.
      await consumer.subscribe({ topic: 'rewind', fromBeginning: true });
      await consumer.run({ eachMessage: async ({ partition, message }) => void consumed.push(`${partition}:${message.offset}`) });
      await waitFor(() => consumed.length >= 10, 15_000, 'both partitions consumed again');
      await consumer.disconnect();
      expect(consumed.sort()).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
      const committed = await admin.fetchOffsets({ groupId: 'rewinders', topics: ['rewind'] });
      expect(committed[0]!.partitions.map((entry) => entry.offset)).toEqual(['5', '5']);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('when a kafkajs consumer seeks', () => {
  it('should consume again from the offset it seeks to', async () => {
    await harness.eventLog.createTopic('replay', { partitions: 1 });
    await harness.eventLog.append('replay', messagesFor(20, 'r').map((message) => ({ ...message, headers: {} })));
    const consumer = harness.kafka().consumer({ groupId: 'replayers', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'replay', fromBeginning: true });
    const offsets: number[] = [];
    const values: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        offsets.push(Number(message.offset));
        values.push(message.value!.toString());
      },
    });
    await waitFor(() => offsets.length >= 20, 15_000, 'the first pass');
    consumer.seek({ topic: 'replay', partition: 0, offset: '12' });
    await waitFor(() => offsets.length >= 28, 15_000, 'the replay');
    await consumer.disconnect();
    const stored = (await harness.eventLog.read('replay', 0, 12)).records.map((record) => record.value.toString());
    expect(offsets.slice(20)).toEqual(Array.from({ length: 8 }, (_, i) => 12 + i));
    expect(values.slice(20)).toEqual(stored);
  });
});
