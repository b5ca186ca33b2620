import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, EmbeddedEventLog, UnknownViewError } from '@lambda/core';
import { StreamingContext, type ViewFeedReport } from '../src/index.js';
import { makeTempDir } from '@lambda/test-kit';
import { collect, manualContext, runBatches, sortedPairs } from './dstream-helpers.js';

type TempDir = Awaited<ReturnType<typeof makeTempDir>>;

/** Every line of every file under `dir`, over all files. */
async function linesOf(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of (await readdir(dir)).sort()) lines.push(...(await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean));
  return lines;
}

function countsOf(words: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  return [...counts];
}

describe('when updateStateByKey keeps a state per key', () => {
  it('should carry each key across batches and delete it when the update returns undefined', async () => {
    // A running total per key that is dropped once a batch brings the value 0 for it.
    const batches: [string, number][][] = [[['a', 1], ['b', 2]], [['a', 3]], [['b', 0], ['c', 5]], [], [['b', 7], ['a', 0]]];
    const { context } = await manualContext();
    const totals = collect(
      context.queueStream(batches).updateStateByKey<string, number, number>((values, state) => (values.includes(0) ? undefined : values.reduce((a, b) => a + b, state ?? 0))),
    );
    await context.start();
    await runBatches(context, batches.length);
    await context.stop();

    const expected = new Map<string, number>();
    batches.forEach((batch, i) => {
      const byKey = new Map<string, number[]>();
      for (const [key, value] of batch) byKey.set(key, [...(byKey.get(key) ?? []), value]);
      for (const [key, values] of byKey) {
        if (values.includes(0)) expected.delete(key);
        else expected.set(key, values.reduce((a, b) => a + b, expected.get(key) ?? 0));
      }
      expect(sortedPairs(totals.get(i + 1)!), `batch ${i + 1}`).toEqual(sortedPairs([...expected]));
    });
  });
});

describe('when a batch fails', () => {
  it('should try the same batch again with the same records, time and state', async () => {
    const batches = [['x', 'y'], ['x'], ['z']];
    const { context } = await manualContext();
    const seen: { time: number; counts: [string, number][] }[] = [];
    let failOnce = true;
    context
      .queueStream(batches)
      .map((word): [string, number] => [word, 1])
      .updateStateByKey<string, number, number>((values, state) => (state ?? 0) + values.length)
      .foreachBatch((counts, time) => {
        if (time === 2000 && failOnce) {
          failOnce = false;
          throw new Error('output down');
        }
        seen.push({ time, counts });
      });
    await context.start();
    await context.runBatch();
    await expect(context.runBatch()).rejects.toThrow('output down');
    await context.runBatch();
    await context.runBatch();
    await context.stop();
    const running = new Map<string, number>();
    const expected = batches.map((batch, i) => {
      for (const word of batch) running.set(word, (running.get(word) ?? 0) + 1);
      return { time: (i + 1) * 1000, counts: sortedPairs([...running]) };
    });
    expect(seen.map(({ time, counts }) => ({ time, counts: sortedPairs(counts) }))).toEqual(expected);
  });
});

describe('when a context with a checkpoint restarts', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('dstream-restart');
  });
  afterEach(() => dir.remove());

  it('should neither lose nor repeat a watched directory, its saved output or its state', async () => {
    const input = join(dir.path, 'in');
    const output = join(dir.path, 'out');
    const checkpointDir = join(dir.path, 'checkpoint');
    await mkdir(input);
    const define = async () => {
      const { context } = await manualContext({ checkpointDir });
      const words = context.textFileStream(input, { settleMs: 0 }).flatMap((line) => line.split(' '));
      words.saveAsTextFiles(join(output, 'words'));
      const totals = words.map((word): [string, number] => [word, 1]).updateStateByKey<string, number, number>((values, state) => (state ?? 0) + values.length);
      return { context, totals: collect(totals) };
    };
    const files: [string, string][] = [
      ['f1.txt', 'a b\nc'],
      ['f2.txt', 'a a'],
      ['f3.txt', 'd\nb'],
      ['f4.txt', 'e a'],
    ];

    const first = await define();
    await first.context.start();
    await writeFile(join(input, files[0]![0]), files[0]![1]);
    await first.context.runBatch();
    await writeFile(join(input, files[1]![0]), files[1]![1]);
    await first.context.runBatch();
    await writeFile(join(input, files[2]![0]), files[2]![1]); // arrives while the first run is down
    await first.context.stop();

    const second = await define();
    await second.context.start();
    await second.context.runBatch();
    await writeFile(join(input, files[3]![0]), files[3]![1]);
    await second.context.runBatch();
    await second.context.stop();

    const allWords = files.flatMap(([, text]) => text.split(/\s+/));
    expect((await linesOf(output)).sort()).toEqual([...allWords].sort());
    const lastState = [...second.totals.values()].at(-1)!;
    expect(sortedPairs(lastState)).toEqual(sortedPairs(countsOf(allWords)));
    expect(second.context.lastCommittedBatch).toBe(4);
  });

  it('should resume a log topic and its sliding window where the last committed batch ended', async () => {
    const log = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
    try {
      await log.createTopic('tags', { partitions: 2 });
      const checkpointDir = join(dir.path, 'checkpoint');
      const batches = [['#a', '#b'], ['#a'], ['#c', '#a'], ['#b'], ['#b', '#b'], ['#c']];
      const define = async () => {
        const { context } = await manualContext({ checkpointDir });
        const tags = context.logTopicStream(log, 'tags', { group: 'trending' }).map((record): [string, number] => [record.value.toString(), 1]);
        const windows = collect(tags.reduceByKeyAndWindow((a, b) => a + b, (a, b) => a - b, 3000, 1000));
        const seen: string[] = [];
        tags.foreachBatch((records) => void seen.push(...records.map(([tag]) => tag)));
        return { context, windows, seen };
      };
      const runs = [await define()];
      await runs[0]!.context.start();
      for (const [i, batch] of batches.entries()) {
        await log.append('tags', batch.map((value) => ({ value })));
        if (i === 3) {
          // The first run goes away after batch 3, with batch 4's records already in the log.
          await runs[0]!.context.stop();
          runs.push(await define());
          await runs[1]!.context.start();
        }
        await runs.at(-1)!.context.runBatch();
      }
      await runs.at(-1)!.context.stop();

      const seen = runs.flatMap((run) => run.seen);
      expect(seen.sort()).toEqual(batches.flat().sort());
      const windows = new Map([...runs[0]!.windows, ...runs[1]!.windows]);
      expect([...windows.keys()]).toEqual(batches.map((_, i) => i + 1));
      for (const [index, pairs] of windows) {
        const recompute = countsOf(batches.slice(Math.max(0, index - 3), index).flat());
        expect(sortedPairs(pairs), `window at batch ${index}`).toEqual(sortedPairs(recompute));
      }
      const ends = await log.endOffsets('tags');
      expect([...(await log.committedOffsets('trending', 'tags'))].sort()).toEqual(ends.map((end, partition) => [partition, end]));
    } finally {
      await log.close();
    }
  });

  it('should do again, after a restart, a batch whose outputs failed before it committed', async () => {
    const log = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
    try {
      await log.createTopic('events', { partitions: 1 });
      const checkpointDir = join(dir.path, 'checkpoint');
      const values = ['1', '2', '3'];
      const delivered: string[] = [];
      const crashed = await manualContext({ checkpointDir });
      crashed.context.logTopicStream(log, 'events').foreachBatch(() => {
        throw new Error('crash before commit');
      });
      await crashed.context.start();
      await log.append('events', values.map((value) => ({ value })));
      await expect(crashed.context.runBatch()).rejects.toThrow('crash before commit');
      await crashed.context.stop();

      const restarted = await manualContext({ checkpointDir });
      restarted.context.logTopicStream(log, 'events').foreachBatch((records) => void delivered.push(...records.map((r) => r.value.toString())));
      await restarted.context.start();
      await restarted.context.runBatch();
      await restarted.context.runBatch();
      await restarted.context.stop();
      expect(delivered).toEqual(values);
    } finally {
      await log.close();
    }
  });
});

describe('when a running context is stopped', () => {
  let dir: TempDir;
  let log: EmbeddedEventLog;
  beforeEach(async () => {
    dir = await makeTempDir('dstream-stop');
    log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
    await log.createTopic('in', { partitions: 1 });
  });
  afterEach(async () => {
    await log.close();
    await dir.remove();
  });

  for (const graceful of [true, false]) {
    it(`should ${graceful ? 'finish and commit' : 'abandon without committing'} the batch in flight when graceful is ${graceful}`, async () => {
      await log.append('in', ['a', 'b', 'c'].map((value) => ({ value })));
      const context = await StreamingContext.create({ batchIntervalMs: 20 });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inFlight = new Promise<void>((resolve) => (entered = resolve));
      const outputsDone: string[] = [];
      const stream = context.logTopicStream(log, 'in', { group: 'g' }).map((record) => record.value.toString());
      stream.foreachBatch(async (records) => {
        if (records.length === 0) return;
        entered();
        await released;
        outputsDone.push('first');
      });
      stream.foreachBatch((records) => void (records.length > 0 && outputsDone.push('second')));
      await context.start();
      await inFlight;
      let stopped = false;
      const stopping = context.stop({ graceful }).then(() => (stopped = true));
      await sleep(50);
      expect(stopped).toBe(false); // waits for the batch in flight
      release();
      await stopping;
      await context.awaitTermination();
      const committed = (await log.committedOffsets('g', 'in')).get(0);
      if (graceful) {
        expect(outputsDone).toEqual(['first', 'second']);
        expect(committed).toBe((await log.endOffsets('in'))[0]);
      } else {
        expect(outputsDone).toEqual(['first']);
        expect(committed).toBeUndefined();
      }
    });
  }
});

describe('when a stream feeds other topics', () => {
  let dir: TempDir;
  let log: EmbeddedEventLog;
  beforeEach(async () => {
    dir = await makeTempDir('dstream-sinks');
    log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
  });
  afterEach(async () => {
    await log.close();
    await dir.remove();
  });

  it('should append each batch to a log topic with toLogTopic', async () => {
    await log.createTopic('upper', { partitions: 1 });
    const batches = [['a', 'b'], [], ['c']];
    const { context } = await manualContext();
    context.queueStream(batches).toLogTopic(log, 'upper', (word) => ({ key: word, value: word.toUpperCase() }));
    await context.start();
    await runBatches(context, batches.length);
    await context.stop();
    const { records } = await log.read('upper', 0, 0);
    expect(records.map((record) => [record.key?.toString(), record.value.toString()])).toEqual(batches.flat().map((word) => [word, word.toUpperCase()]));
  });

  it("should append to the view's source topic, keyed by its partition key, reporting what the schema rejects", async () => {
    const catalog = Catalog.compile({
      sources: [{ topic: 'clicks', eventTimeField: 'ts', fields: { user: 'string', n: 'number' }, partitionKey: 'user' }],
      views: [{ name: 'clicks_by_user', source: 'clicks', key: 'user', aggregates: { clicks: 'count()', total: 'sum(n)' } }],
    });
    await log.createTopic('clicks', { partitions: 2 });
    const events = [
      { user: 'ann', n: 2, ts: 1000 },
      { user: 'bob', n: 'three', ts: 2000 },
      { user: 'ann', n: 4, ts: 3000 },
    ];
    const { context } = await manualContext();
    const reports: ViewFeedReport[] = [];
    const stream = context.queueStream([events]);
    expect(() => stream.toView(log, catalog, 'no_such_view')).toThrow(UnknownViewError);
    stream.toView(log, catalog, 'clicks_by_user', { onBatch: (report) => reports.push(report) });
    await context.start();
    await context.runBatch();
    await context.stop();

    const stored = [];
    for (let partition = 0; partition < 2; partition++) stored.push(...(await log.read('clicks', partition, 0)).records);
    expect(stored.map((record) => JSON.parse(record.value.toString())).sort((a, b) => a.ts - b.ts)).toEqual(events);
    for (const record of stored) expect(record.key?.toString()).toBe(JSON.parse(record.value.toString()).user);
    const source = catalog.sources.get('clicks')!;
    const expectedRejected = events.filter((event) => !source.decode({ topic: 'clicks', partition: 0, offset: 0, timestamp: 0, key: null, value: Buffer.from(JSON.stringify(event)), headers: {} }).ok);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.appended).toBe(events.length);
    expect(reports[0]!.rejected.map((r) => events[r.index])).toEqual(expectedRejected);
    expect(reports[0]!.rejected[0]!.reason).toContain('"n"');
  });
});

describe('when a log topic stream decodes values', () => {
  let dir: TempDir;
  let log: EmbeddedEventLog;
  beforeEach(async () => {
    dir = await makeTempDir('dstream-decode');
    log = await EmbeddedEventLog.open({ directory: dir.path, fsync: 'never' });
    await log.createTopic('mixed', { partitions: 1 });
  });
  afterEach(async () => {
    await log.close();
    await dir.remove();
  });

  it('should hand out text, or parsed JSON skipping values that are not JSON', async () => {
    const values = ['{"a":1}', 'not json', '[2,3]', '"text"'];
    await log.append('mixed', values.map((value) => ({ value })));
    const { context } = await manualContext();
    const texts = collect(context.logTopicStream(log, 'mixed', { decode: 'string' }));
    const parsed = collect(context.logTopicStream(log, 'mixed', { decode: 'json' }));
    await context.start();
    await context.runBatch();
    await context.stop();
    expect(texts.get(1)).toEqual(values);
    const expected = values.flatMap((value) => {
      try {
        return [JSON.parse(value)];
      } catch {
        return [];
      }
    });
    expect(parsed.get(1)).toEqual(expected);
  });
});

describe('when a batch on the timer fails every attempt', () => {
  it('should stop the context and make awaitTermination reject with its error', async () => {
    const context = await StreamingContext.create({ batchIntervalMs: 10, retryDelayMs: 10, maxBatchAttempts: 2 });
    let attempts = 0;
    context.queueStream([[1]]).foreachBatch(() => {
      attempts++;
      throw new Error('sink is down');
    });
    await context.start();
    await expect(context.awaitTermination()).rejects.toThrow('sink is down');
    expect(attempts).toBe(2);
    await expect(context.runBatch()).rejects.toThrow(/manualBatches/);
  });
});
