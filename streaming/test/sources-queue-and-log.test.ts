import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedEventLog } from '@lambda/core';
import { LogTopicSource, QueueSource } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';

describe('when a queue source is polled', () => {
  it('should hand out one array per poll, then empty batches', async () => {
    const arrays = [[1, 2], [3], [4, 5, 6]];
    const source = new QueueSource(arrays);
    await source.start();
    const polled: number[][] = [];
    for (let i = 0; i < arrays.length + 2; i++) polled.push((await source.poll()).records);
    expect(polled).toEqual([...arrays, [], []]);
  });

  it('should skip the arrays a checkpointed position says were taken', async () => {
    const arrays = [['a'], ['b'], ['c']];
    const first = new QueueSource(arrays);
    await first.start();
    await first.poll();
    const { position } = await first.poll();
    const restarted = new QueueSource(arrays);
    await restarted.start(position);
    expect((await restarted.poll()).records).toEqual(arrays[2]);
  });
});

describe('when a log topic source reads a topic', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;

  beforeEach(async () => {
    dir = await makeTempDir('log-source');
    log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
    await log.createTopic('words', { partitions: 3 });
  });
  afterEach(async () => {
    await log.close();
    await dir.remove();
  });

  it('should hand out every record once across polls, resuming from a position and committing group offsets', async () => {
    const firstValues = Array.from({ length: 20 }, (_, i) => `v${i}`);
    await log.append('words', firstValues.map((value) => ({ key: value, value })));
    const source = new LogTopicSource({ eventLog: log, topic: 'words', group: 'g1', maxRecordsPerPartition: 3 });
    await source.start();
    const seen: string[] = [];
    let position;
    for (let i = 0; i < 10; i++) {
      const batch = await source.poll();
      seen.push(...batch.records.map((record) => record.value.toString()));
      position = batch.position;
    }
    expect([...seen].sort()).toEqual([...firstValues].sort());
    await source.commit(position!);
    const ends = await log.endOffsets('words');
    expect([...(await log.committedOffsets('g1', 'words'))].sort()).toEqual(ends.map((end, partition) => [partition, end]));

    const moreValues = ['x', 'y', 'z'];
    await log.append('words', moreValues.map((value) => ({ key: value, value })));
    const restarted = new LogTopicSource({ eventLog: log, topic: 'words', group: 'g1' });
    await restarted.start(position);
    const after = (await restarted.poll()).records.map((record) => record.value.toString());
    expect(after.sort()).toEqual(moreValues);
  });

  it('should start from the group offsets when no position is given, and from the end when asked for latest', async () => {
    await log.append('words', [{ value: 'old', partition: 0 }]);
    await log.commitOffsets('g2', 'words', new Map([[0, 1]]));
    const fromGroup = new LogTopicSource({ eventLog: log, topic: 'words', group: 'g2' });
    await fromGroup.start();
    const latest = new LogTopicSource({ eventLog: log, topic: 'words', startingOffsets: 'latest' });
    await latest.start();
    await log.append('words', [{ value: 'new', partition: 0 }]);
    expect((await fromGroup.poll()).records.map((record) => record.value.toString())).toEqual(['new']);
    expect((await latest.poll()).records.map((record) => record.value.toString())).toEqual(['new']);
  });
});
