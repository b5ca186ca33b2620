import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@lambda/core';
import { makeTempDir } from '@lambda/test-kit';
import { collect, manualContext, runBatches, sortedPairs } from './dstream-helpers.js';

const lines = [['the quick fox', 'the lazy dog'], [], ['a b a', 'b'], ['fox fox fox']];

function wordCounts(batch: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const word of batch.flatMap((line) => line.split(' ').filter(Boolean))) counts.set(word, (counts.get(word) ?? 0) + 1);
  return [...counts];
}

describe('when per-batch transformations run over a queue of batches', () => {
  it('should match plain array code for map, flatMap, filter, count, reduce and countByValue', async () => {
    const { context } = await manualContext();
    const input = context.queueStream(lines);
    const words = input.flatMap((line) => line.split(' ').filter(Boolean));
    const results = {
      map: collect(input.map((line) => line.length)),
      flatMap: collect(words),
      filter: collect(words.filter((word) => word.length > 2)),
      count: collect(input.count()),
      reduce: collect(input.map((line) => line.length).reduce((a, b) => a + b)),
      countByValue: collect(words.countByValue()),
    };
    await context.start();
    await runBatches(context, lines.length);
    await context.stop();

    lines.forEach((batch, i) => {
      const index = i + 1;
      const batchWords = batch.flatMap((line) => line.split(' ').filter(Boolean));
      expect(results.map.get(index)).toEqual(batch.map((line) => line.length));
      expect(results.flatMap.get(index)).toEqual(batchWords);
      expect(results.filter.get(index)).toEqual(batchWords.filter((word) => word.length > 2));
      expect(results.count.get(index)).toEqual([batch.length]);
      expect(results.reduce.get(index)).toEqual(batch.length === 0 ? [] : [batch.reduce((sum, line) => sum + line.length, 0)]);
      expect(sortedPairs(results.countByValue.get(index)!)).toEqual(sortedPairs(wordCounts(batch)));
    });
  });

  it('should match plain array code for reduceByKey, mapValues, union, join and transform', async () => {
    const left = [[['a', 1], ['b', 2], ['a', 3]], [['c', 4]], []] as [string, number][][];
    const right = [[['a', 'x'], ['a', 'y'], ['z', 'q']], [], [['b', 'w']]] as [string, string][][];
    const { context } = await manualContext();
    const l = context.queueStream(left);
    const r = context.queueStream(right);
    const results = {
      reduceByKey: collect(l.reduceByKey((a, b) => a + b)),
      mapValues: collect(l.mapValues((value) => value * 10)),
      union: collect(l.map(([key]) => key).union(r.map(([key]) => key))),
      join: collect(l.join(r)),
      transform: collect(l.transform((records, time) => [`${records.length}@${time}`])),
    };
    await context.start();
    await runBatches(context, left.length);
    await context.stop();

    left.forEach((batch, i) => {
      const index = i + 1;
      const sums = new Map<string, number>();
      for (const [key, value] of batch) sums.set(key, (sums.get(key) ?? 0) + value);
      expect(sortedPairs(results.reduceByKey.get(index)!)).toEqual(sortedPairs([...sums]));
      expect(results.mapValues.get(index)).toEqual(batch.map(([key, value]) => [key, value * 10]));
      expect(results.union.get(index)).toEqual([...batch.map(([key]) => key), ...right[i]!.map(([key]) => key)]);
      const joined = batch.flatMap(([key, value]) => right[i]!.filter(([other]) => other === key).map(([, match]) => [key, [value, match]]));
      expect(sortedPairs(results.join.get(index)!)).toEqual(sortedPairs(joined));
      expect(results.transform.get(index)).toEqual([`${batch.length}@${index * 1000}`]);
    });
  });

  it('should compare keys by value, so equal array keys reduce together', async () => {
    const { context } = await manualContext();
    const reduced = collect(
      context
        .queueStream([[1, 2, 3, 4]])
        .map((n): [[string, number], number] => [['parity', n % 2], n])
        .reduceByKey((a, b) => a + b),
    );
    await context.start();
    await context.runBatch();
    await context.stop();
    expect(sortedPairs(reduced.get(1)!)).toEqual(sortedPairs([[['parity', 1], 1 + 3], [['parity', 0], 2 + 4]]));
  });
});

describe('when a window is not a multiple of the batch interval', () => {
  it('should reject it when the operation is defined, naming the operation and the values', async () => {
    const { context } = await manualContext({ batchIntervalMs: 1000 });
    const stream = context.queueStream<[string, number]>([]);
    const attempts: [string, () => unknown][] = [
      ['window', () => stream.window(2500, 1000)],
      ['countByWindow', () => stream.countByWindow('3s', '1500ms')],
      ['reduceByWindow', () => stream.reduceByWindow((a) => a, undefined, 1500)],
      ['reduceByKeyAndWindow', () => stream.reduceByKeyAndWindow((a, b) => a + b, undefined, '4s', 700)],
    ];
    for (const [operation, define] of attempts) {
      let thrown: unknown;
      try {
        define();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, operation).toBeInstanceOf(InvalidArgumentError);
      const error = thrown as InvalidArgumentError;
      expect(error.message).toContain(operation);
      expect(error.message).toContain('multiple of the batch interval (1000 ms)');
      expect(error.context.operation).toBe(operation);
    }
  });
});

describe('when pprint prints batches', () => {
  it("should print Spark's block: rules, the batch time, the first n records and '...' when there are more", async () => {
    const batches = [['a', 'b', 'c', 'd'], ['x'], []];
    const { context, printed } = await manualContext({ batchIntervalMs: 2000, zeroTime: 10_000 });
    context.queueStream(batches).pprint(3);
    await context.start();
    await runBatches(context, batches.length);
    await context.stop();
    const rule = '-'.repeat(43);
    const expected = batches.map((batch, i) => {
      const shown = batch.slice(0, 3);
      const more = batch.length > 3 ? ['...'] : [];
      return [rule, `Time: ${10_000 + (i + 1) * 2000} ms`, rule, ...shown, ...more, '', ''].join('\n');
    });
    expect(printed).toEqual(expected);
  });
});

describe('when saveAsTextFiles writes batches', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    dir = await makeTempDir('dstream-save');
  });
  afterEach(() => dir.remove());

  it('should write one file per batch named prefix-<time>.suffix, one record per line', async () => {
    const batches = [[['a', 1] as [string, number]], [], [['b', 2] as [string, number], ['c', 3] as [string, number]]];
    const { context } = await manualContext({ batchIntervalMs: 500, zeroTime: 1_000_000 });
    context.queueStream(batches).saveAsTextFiles(join(dir.path, 'out', 'counts'), 'txt');
    await context.start();
    await runBatches(context, batches.length);
    await context.stop();
    const expectedNames = batches.map((_, i) => `counts-${1_000_000 + (i + 1) * 500}.txt`);
    expect((await readdir(join(dir.path, 'out'))).sort()).toEqual([...expectedNames].sort());
    for (const [i, batch] of batches.entries()) {
      const text = await readFile(join(dir.path, 'out', expectedNames[i]!), 'utf8');
      expect(text).toBe(batch.map(([key, value]) => `(${key},${value})\n`).join(''));
    }
  });
});
