import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedEventLog, openLogFollower, type LogFollower, type LogRecord } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';

describe('a follower of the embedded log', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  let follower: LogFollower;

  beforeEach(async () => {
    dir = await makeTempDir('follower');
    // Tiny segments and index intervals: the follower must pick up rolls and index growth.
    log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never', segmentBytes: 4096, indexIntervalBytes: 256 });
    await log.createTopic('events', { partitions: 2 });
    follower = await openLogFollower(log.followerDescriptor());
  });

  afterEach(async () => {
    await follower.close();
    await log.close();
    await dir.remove();
  });

  async function scanAll(partition: number, from: number, end: number, maxRecords: number): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    const count = await follower.scan('events', partition, from, end, { maxRecords, maxBytes: 1 << 20 }, (record) => records.push(record));
    expect(count).toBe(records.length);
    return records;
  }

  async function readAll(partition: number, from: number, end: number): Promise<string[]> {
    const values: string[] = [];
    for (let offset = from; offset < end; ) {
      const records = await scanAll(partition, offset, end, 37);
      expect(records.length).toBeGreaterThan(0);
      records.forEach((record, i) => expect(record.offset).toBe(offset + i));
      values.push(...records.map((record) => record.value.toString()));
      offset += records.length;
    }
    return values;
  }

  it('should read what the owner appended, across segments, and nothing at or past the end offset', async () => {
    await log.append('events', Array.from({ length: 500 }, (_, i) => ({ value: `v${i}-${'x'.repeat(i % 40)}`, partition: 0 })));
    const [end] = await log.endOffsets('events');
    expect(await readAll(0, 0, end!)).toEqual(Array.from({ length: 500 }, (_, i) => `v${i}-${'x'.repeat(i % 40)}`));
    expect(await scanAll(0, 120, 125, 100)).toHaveLength(5);
    expect(await scanAll(0, end!, end!, 100)).toEqual([]);
  });

  it('should keep up while the owner keeps appending', async () => {
    let appended = 0;
    let read = 0;
    const writer = (async () => {
      for (let i = 0; i < 60; i++) {
        await log.append('events', Array.from({ length: 20 }, (_, j) => ({ value: `w${i * 20 + j}`, partition: 1 })));
        appended += 20;
      }
    })();
    const values: string[] = [];
    while (read < 1200) {
      // Only below what the owner acknowledged: frames being written are never touched.
      const [, end] = await log.endOffsets('events');
      if (end! > read) {
        const records = await scanAll(1, read, end!, 50);
        values.push(...records.map((record) => record.value.toString()));
        read += records.length;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer;
    expect(appended).toBe(1200);
    expect(values).toEqual(Array.from({ length: 1200 }, (_, i) => `w${i}`));
  });

  it('should stop at the end offset and never look at a frame past it, which the owner may be writing', async () => {
    await log.append('events', Array.from({ length: 10 }, (_, i) => ({ value: `t${i}`, partition: 0 })));
    const [end] = await log.endOffsets('events');
    // What a reader sees while the owner's next frame is half written: its header, part of its payload.
    const partitionDirectory = join(dir.path, 'topics', 'events', '0');
    const segment = (await readdir(partitionDirectory)).filter((name) => name.endsWith('.log')).sort().at(-1)!;
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(1000, 0);
    await appendFile(join(partitionDirectory, segment), torn);

    const records = await scanAll(0, 0, end!, 100);
    expect(records.map((record) => record.value.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
  });
});
