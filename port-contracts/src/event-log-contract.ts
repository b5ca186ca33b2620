import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidOffsetError,
  InvalidPartitionError,
  InvalidTopicError,
  OffsetOutOfRangeError,
  TopicExistsError,
  UnknownTopicError,
  partitionForKey,
  type EventLog,
  type LogRecord,
} from '@lambda/core';
import { suiteTitle, type ContractFixture, type ContractTarget } from './contract-target.js';
import { describeWhenAvailable } from '@lambda/test-kit';

/** Reads a whole partition from `from` to its end, page by page. */
export async function readAll(log: EventLog, topic: string, partition: number, from = 0): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let offset = from;
  for (;;) {
    const page = await log.read(topic, partition, offset, { maxBytes: 64 * 1024 });
    records.push(...page.records);
    offset = page.nextOffset;
    if (offset >= page.endOffset) return records;
  }
}

export function describeEventLogContract(target: ContractTarget<EventLog>): void {
  describeWhenAvailable(suiteTitle('EventLog', target), target.skipReason, () => {
    let fixture: ContractFixture<EventLog>;
    let log: EventLog;
    let topic: string;

    beforeEach(async () => {
      fixture = await target.prepare();
      log = await fixture.open();
      topic = `contract-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await log.close();
      await fixture.cleanUp();
    });

    describe('when creating topics', () => {
      it('should create a topic with the asked number of partitions', async () => {
        await log.createTopic(topic, { partitions: 3 });
        expect(await log.describeTopic(topic)).toEqual({ name: topic, partitions: 3 });
        expect(await log.listTopics()).toContainEqual({ name: topic, partitions: 3 });
        expect(await log.endOffsets(topic)).toEqual([0, 0, 0]);
        expect(await log.startOffsets(topic)).toEqual([0, 0, 0]);
      });

      it('should refuse a topic that exists', async () => {
        await log.createTopic(topic, { partitions: 1 });
        await expect(log.createTopic(topic, { partitions: 2 })).rejects.toThrow(TopicExistsError);
        expect(await log.describeTopic(topic)).toEqual({ name: topic, partitions: 1 });
      });

      it.each(['', 'has space', '..', '.', 'a/b', 'x'.repeat(250), 'naïve'])('should refuse the topic name %j', async (name) => {
        const error = await log.createTopic(name, { partitions: 1 }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidTopicError);
        expect((error as Error).message).toContain(JSON.stringify(name));
        expect((await log.listTopics()).map((t) => t.name)).not.toContain(name);
      });

      it.each([0, -1, 1.5, 100_000, '3', Number.NaN])('should refuse %j partitions', async (partitions) => {
        const error = await log.createTopic(topic, { partitions: partitions as number }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidPartitionError);
        expect((error as Error).message).toContain(String(JSON.stringify(partitions)));
        await expect(log.describeTopic(topic)).rejects.toThrow(UnknownTopicError);
      });

      it('should say which topic is unknown', async () => {
        await expect(log.describeTopic(topic)).rejects.toThrow(new RegExp(topic));
        await expect(log.endOffsets(topic)).rejects.toThrow(UnknownTopicError);
        await expect(log.append(topic, [{ value: 'x' }])).rejects.toThrow(UnknownTopicError);
      });
    });

    describe('when appending', () => {
      beforeEach(async () => {
        await log.createTopic(topic, { partitions: 3 });
      });

      it('should give consecutive offsets per partition, in input order', async () => {
        const appended = await log.append(
          topic,
          Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`, partition: i % 3 })),
        );
        for (let partition = 0; partition < 3; partition++) {
          const offsets = appended.filter((a) => a.partition === partition).map((a) => a.offset);
          expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => i));
        }
        expect(await log.endOffsets(topic)).toEqual([10, 10, 10]);
      });

      it("should place keys with Kafka's default partitioner", async () => {
        const keys = Array.from({ length: 50 }, (_, i) => `user-${i}`);
        const appended = await log.append(topic, keys.map((key) => ({ key, value: key })));
        appended.forEach((result, i) => expect(result.partition).toBe(partitionForKey(Buffer.from(keys[i]!), 3)));
        const again = await log.append(topic, [{ key: 'user-7', value: 'again' }]);
        expect(again[0]!.partition).toBe(appended[7]!.partition);
      });

      it('should spread records without a key over every partition', async () => {
        const appended = await log.append(topic, Array.from({ length: 30 }, (_, i) => ({ value: String(i) })));
        expect(new Set(appended.map((a) => a.partition))).toEqual(new Set([0, 1, 2]));
      });

      it('should store keys, values, headers and timestamps exactly', async () => {
        const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
        await log.append(topic, [
          { key: 'k', value: binary, timestamp: 1_700_000_000_123, headers: { source: 'test', raw: Buffer.from([7]) }, partition: 1 },
          { key: null, value: '{"a":1}', timestamp: 5, partition: 1 },
          { key: Buffer.from('bytes-key'), value: '', timestamp: 0, partition: 1 },
        ]);
        const { records } = await log.read(topic, 1, 0);
        expect(records).toHaveLength(3);
        expect(records[0]).toMatchObject({ topic, partition: 1, offset: 0, timestamp: 1_700_000_000_123 });
        expect(records[0]!.key).toEqual(Buffer.from('k'));
        expect(records[0]!.value).toEqual(binary);
        expect(records[0]!.headers).toEqual({ source: Buffer.from('test'), raw: Buffer.from([7]) });
        expect(records[1]!.key).toBeNull();
        expect(records[1]!.value.toString()).toBe('{"a":1}');
        expect(records[2]!.key).toEqual(Buffer.from('bytes-key'));
        expect(records[2]!.value).toHaveLength(0);
        expect(records[2]!.timestamp).toBe(0);
      });

      it('should timestamp records with the append time when the producer gives none', async () => {
        const before = Date.now();
        await log.append(topic, [{ value: 'now', partition: 0 }]);
        const [record] = (await log.read(topic, 0, 0)).records;
        expect(record!.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(record!.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
      });

      it('should append nothing when any message is invalid', async () => {
        await log.append(topic, [{ value: 'first', partition: 0 }]);
        await expect(
          log.append(topic, [{ value: 'ok', partition: 0 }, { value: 42 as unknown as string, partition: 0 }]),
        ).rejects.toThrow(InvalidArgumentError);
        await expect(log.append(topic, [{ value: 'ok', partition: 0 }, { value: 'bad', partition: 7 }])).rejects.toThrow(/partition 7/);
        await expect(log.append(topic, [{ value: 'ok', timestamp: -5 }])).rejects.toThrow(/timestamp -5/);
        expect(await log.endOffsets(topic)).toEqual([1, 0, 0]);
      });

      it('should give distinct offsets to concurrent appends', async () => {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => log.append(topic, [{ value: `c${i}`, partition: 2 }, { value: `d${i}`, partition: 2 }])),
        );
        const offsets = results.flat().map((r) => r.offset).sort((a, b) => a - b);
        expect(offsets).toEqual(Array.from({ length: 80 }, (_, i) => i));
        // Each append's two records stay together and in order.
        for (const [first, second] of results) expect(second!.offset).toBe(first!.offset + 1);
        const values = (await readAll(log, topic, 2)).map((r) => r.value.toString());
        expect(values.filter((v) => v.startsWith('c'))).toHaveLength(40);
        expect(new Set(values).size).toBe(80);
      });
    });

    describe('when reading', () => {
      beforeEach(async () => {
        await log.createTopic(topic, { partitions: 2 });
        await log.append(topic, Array.from({ length: 100 }, (_, i) => ({ value: `record-${i}`, partition: 0 })));
      });

      it('should read from any offset to the end', async () => {
        const { records, nextOffset, endOffset } = await log.read(topic, 0, 37);
        expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 63 }, (_, i) => 37 + i));
        expect(records[0]!.value.toString()).toBe('record-37');
        expect(nextOffset).toBe(100);
        expect(endOffset).toBe(100);
      });

      it('should stop at maxRecords', async () => {
        const page = await log.read(topic, 0, 10, { maxRecords: 5 });
        expect(page.records.map((r) => r.offset)).toEqual([10, 11, 12, 13, 14]);
        expect(page.nextOffset).toBe(15);
      });

      it('should stop near maxBytes but always return one record', async () => {
        const small = await log.read(topic, 0, 0, { maxBytes: 200 });
        expect(small.records.length).toBeGreaterThan(0);
        expect(small.records.length).toBeLessThan(100);
        await log.append(topic, [{ value: 'x'.repeat(10_000), partition: 1 }]);
        const big = await log.read(topic, 1, 0, { maxBytes: 10 });
        expect(big.records).toHaveLength(1);
        expect(big.records[0]!.value).toHaveLength(10_000);
      });

      it('should return nothing at the end offset', async () => {
        expect(await log.read(topic, 0, 100)).toEqual({ records: [], nextOffset: 100, endOffset: 100 });
        expect(await log.read(topic, 1, 0)).toEqual({ records: [], nextOffset: 0, endOffset: 0 });
      });

      it('should refuse offsets past the end', async () => {
        const error = await log.read(topic, 0, 101).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(OffsetOutOfRangeError);
        expect((error as Error).message).toContain('101');
      });

      it.each([-1, 1.5, Number.NaN, '3'])('should refuse the offset %j', async (offset) => {
        const error = await log.read(topic, 0, offset as number).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidOffsetError);
        expect((error as Error).message).toContain(String(JSON.stringify(offset)));
      });

      it.each([-1, 2, 0.5])('should refuse the partition %j', async (partition) => {
        const error = await log.read(topic, partition, 0).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidPartitionError);
        expect((error as Error).message).toContain(String(partition));
      });

      it('should page through many records exactly once', async () => {
        await log.append(topic, Array.from({ length: 2000 }, (_, i) => ({ value: `bulk-${i}-${'y'.repeat(i % 50)}`, partition: 1 })));
        const records = await readAll(log, topic, 1);
        expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
        records.forEach((r, i) => expect(r.value.toString()).toBe(`bulk-${i}-${'y'.repeat(i % 50)}`));
      });
    });

    describe('when committing consumer-group offsets', () => {
      beforeEach(async () => {
        await log.createTopic(topic, { partitions: 3 });
      });

      it('should return nothing for a group that never committed', async () => {
        expect(await log.committedOffsets('fresh-group', topic)).toEqual(new Map());
      });

      it('should keep the latest commit per group and partition', async () => {
        await log.commitOffsets('g1', topic, new Map([[0, 5], [2, 7]]));
        await log.commitOffsets('g1', topic, new Map([[0, 9]]));
        await log.commitOffsets('g2', topic, new Map([[1, 3]]));
        expect(await log.committedOffsets('g1', topic)).toEqual(new Map([[0, 9], [2, 7]]));
        expect(await log.committedOffsets('g2', topic)).toEqual(new Map([[1, 3]]));
      });

      it('should refuse invalid partitions, offsets and groups', async () => {
        await expect(log.commitOffsets('g', topic, new Map([[3, 1]]))).rejects.toThrow(InvalidPartitionError);
        await expect(log.commitOffsets('g', topic, new Map([[0, -2]]))).rejects.toThrow(InvalidOffsetError);
        await expect(log.commitOffsets('', topic, new Map([[0, 1]]))).rejects.toThrow(InvalidArgumentError);
        expect(await log.committedOffsets('g', topic)).toEqual(new Map());
      });
    });

    describe('when reopened', () => {
      it('should still hold every topic, record and committed offset', async () => {
        await log.createTopic(topic, { partitions: 2 });
        const appended = await log.append(topic, Array.from({ length: 500 }, (_, i) => ({ key: `k${i % 17}`, value: `v${i}` })));
        await log.commitOffsets('group', topic, new Map([[0, 3], [1, 4]]));
        const endOffsets = await log.endOffsets(topic);
        await log.close();
        log = await fixture.open();
        expect(await log.describeTopic(topic)).toEqual({ name: topic, partitions: 2 });
        expect(await log.endOffsets(topic)).toEqual(endOffsets);
        expect(await log.committedOffsets('group', topic)).toEqual(new Map([[0, 3], [1, 4]]));
        const values = new Map<string, string>();
        for (const partition of [0, 1]) {
          for (const record of await readAll(log, topic, partition)) values.set(`${partition}:${record.offset}`, record.value.toString());
        }
        appended.forEach((a, i) => expect(values.get(`${a.partition}:${a.offset}`)).toBe(`v${i}`));
        // Appends continue after the last offset.
        const [next] = await log.append(topic, [{ value: 'after', partition: 0 }]);
        expect(next!.offset).toBe(endOffsets[0]);
      });
    });
  });
}
