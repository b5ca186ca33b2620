/**
 * The platform as separate processes on the real engines (`npm run engines:up`): the speed, batch and
 * serving layers and a batch worker, each from `infra/dist/bin`, on Kafka, Cassandra, S3 (s3rver) and
 * BullMQ. A seeded stream with late, out-of-order and malformed page views goes in through the REST API
 * and straight to the broker; every view's answer over HTTP equals DuckDB's truth over every valid record
 * the broker holds below the answer's position: before, between and after two recomputes, and after the
 * speed layer is killed with SIGKILL mid-stream and started again. And a view with thousands of live
 * slices is read through Cassandra at all.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CassandraViewStore } from '@lambda/adapters';
import { Catalog } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { describeWhenAvailable, shareEngines } from '@lambda/test-kit';
import {
  CASSANDRA_CONTACT_POINTS,
  CASSANDRA_LOCAL_DC,
  SplitPlatform,
  splitPlatformSkipReason,
  startStream,
  until,
} from './helpers/split-platform.js';
import { readAllRecords } from './helpers/truth.js';

const skipReason = await splitPlatformSkipReason();

describeWhenAvailable('when the layers run as processes on Kafka, Cassandra, S3 and BullMQ', skipReason, () => {
  let platform: SplitPlatform | undefined;
  let release: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // Not while a fault test has an engine stopped (see engine-lease.ts): it may wait for one to finish.
    release = await shareEngines();
    platform = await SplitPlatform.start();
  }, 300_000);

  afterAll(async () => {
    try {
      await platform?.close();
    } finally {
      await release?.();
    }
  }, 60_000);

  it('should answer exactly before, between and after two recomputes fanned out to the batch worker', async () => {
    const p = platform!;
    // Out of order on arrival too: the later half reaches the broker first.
    const [early, late] = [p.events(300), p.events(300)];
    await p.produce(late);
    expect(await p.ingest(early)).toBeGreaterThan(250);
    await p.caughtUp();
    for (const answer of (await p.expectExact('before any recompute')).values()) expect(answer.provenance.batch).toBeNull();

    // Each malformed record went to the dead-letter topic, once.
    const invalid = p.invalidRecords(await readAllRecords(p.log, p.topic));
    expect(invalid.length).toBeGreaterThan(5);
    expect((await p.deadLetters()).sort()).toEqual(invalid.sort());

    // The batch layer runs no partition task itself (PARTITION_WORKERS=0): only the worker can finish these.
    const first = await p.recomputeAll();
    expect(first.map((run) => [run.state, run.version, run.error])).toEqual(first.map(() => ['completed', 1, null]));
    for (const [view, answer] of await p.expectExact('after the first recompute')) {
      expect(answer.provenance.batch?.version, view).toBe(1);
      expect(answer.provenance.batch!.horizon.reduce((sum, offset) => sum + offset, 0), view).toBeGreaterThan(0);
    }

    // More events, late ones among them landing in windows version 1 covers: merged on top of it.
    await p.ingest(p.events(200));
    await p.produce(p.events(200));
    await p.caughtUp();
    const between = await p.expectExact('with slices on top of version 1');
    expect([...between.values()].some((answer) => answer.provenance.slices.length > 0)).toBe(true);
    // Ad-hoc SQL reads Cassandra through the same port, at the same snapshot: the same windows.
    for (const [view, answer] of between) {
      const sql = await p.api<{ rows: unknown[][]; views: Record<string, { position: number[] }> }>('POST', '/query', JSON.stringify({ sql: `SELECT count(*) FROM "${view}"` }));
      expect(sql.views[view]!.position, view).toEqual(answer.provenance.position);
      expect(sql.rows, view).toEqual([[answer.windows.length]]);
    }

    const second = await p.recomputeAll();
    expect(second.map((run) => [run.state, run.version])).toEqual(second.map(() => ['completed', 2]));
    for (const [view, answer] of await p.expectExact('after the second recompute')) expect(answer.provenance.batch?.version, view).toBe(2);
  }, 240_000);

  it('should lose nothing and count nothing twice when the speed layer is killed with SIGKILL mid-stream', async () => {
    const p = platform!;
    const before = await p.caughtUp();
    const stream = startStream(p);
    try {
      // Mid-stream: the speed layer has folded some of the stream, and more keeps coming.
      await until(async () => (await p.positions()).get('pageviews_by_url')!.some((offset, partition) => offset > before[partition]!), 'the speed layer folds the stream');
      expect(await p.layers.speed.stop('SIGKILL')).toBeNull();
      const sentAtKill = stream.counts.sent;
      await until(async () => stream.counts.sent >= sentAtKill + 200, 'the stream goes on while the speed layer is down');
      await p.layers.speed.start();
      const sentAtRestart = stream.counts.sent;
      await until(async () => stream.counts.sent >= sentAtRestart + 200, 'the stream goes on after the restart');
    } finally {
      await stream.stop();
    }
    expect(stream.counts.failed).toBe(0);
    expect(p.layers.speed.starts).toBe(2);

    const ends = await p.caughtUp();
    for (const [view, answer] of await p.expectExact('after the speed layer was killed and restarted')) {
      expect(answer.provenance.position, `${view} counts every record`).toEqual(ends);
    }
    // Malformed records re-read after the restart were not dead-lettered again.
    const deadLetters = await p.deadLetters();
    expect(new Set(deadLetters).size).toBe(deadLetters.length);
    expect(deadLetters.sort()).toEqual(p.invalidRecords(await readAllRecords(p.log, p.topic)).sort());
    // The restarted speed layer commits its group's offsets up to the end again.
    await until(async () => {
      const { topics } = await p.api<{ topics: { topic: string; partitions: { committed: number | null }[] }[] }>('GET', '/status');
      return topics.find((topic) => topic.topic === p.topic)!.partitions.every(({ committed }, partition) => committed === ends[partition]);
    }, 'the committed offsets reach the end');
  }, 180_000);

  it('should answer a view with more live slices than a Cassandra connection takes in flight', async () => {
    // A batch layer stopped for long leaves that many; a reader asking for them all at once got only 503s.
    const catalog = Catalog.compile({
      sources: [{ topic: 'unread', eventTimeField: 'ts', fields: { n: 'number' } }],
      views: [{ name: 'many_slices', source: 'unread', key: 'n', aggregates: { records: 'count()' } }],
    });
    const view = catalog.views.get('many_slices')!;
    const one = view.createState();
    view.accumulate(one, [true]);
    // One attempt per call: the store's retries would hide the reads the driver refused.
    const store = await CassandraViewStore.open({ contactPoints: CASSANDRA_CONTACT_POINTS, localDataCenter: CASSANDRA_LOCAL_DC, keyspace: platform!.keyspace, attempts: 1 });
    try {
      const slices = 3000;
      for (let start = 0; start < slices; start += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, i) =>
            store.putSlice({ view: view.name, partition: 0, start: start + i, end: start + i + 1, closed: true, newestRecordAt: null }, [
              { key: '1', windowStart: 0, state: view.toJson(one) },
            ]),
          ),
        );
      }
      const answer = await new MergedViewReader(store, catalog).read(view.name, { keys: ['1'] });
      expect(answer.provenance.position).toEqual([slices]);
      expect(answer.windows.map((window) => window.values)).toEqual([{ records: slices }]);
    } finally {
      await store.close();
    }
  }, 120_000);
});

