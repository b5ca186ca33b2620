import { Catalog, Metrics, type CompiledView, type Slice } from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer } from '../src/index.js';
import {
  FaultyEventLog,
  FaultyViewStore,
  GROUP,
  MINUTE,
  PARTITIONS,
  T0,
  TOPIC,
  URL_VIEW,
  USER_VIEW,
  appendViews,
  committedArray,
  expectContiguous,
  expectedUrlRows,
  expectedUserRows,
  generateViews,
  makeCatalog,
  makeUrlOnlyCatalog,
  mergedSliceRows,
  openPlatform,
  type PageView,
  type Platform,
} from './helpers.js';

let platform: Platform;
let catalog: Catalog;
let urlView: CompiledView;
let userView: CompiledView;

beforeEach(async () => {
  platform = await openPlatform('core');
  catalog = makeCatalog();
  urlView = catalog.views.get(URL_VIEW)!;
  userView = catalog.views.get(USER_VIEW)!;
});

afterEach(async () => {
  await platform.cleanUp();
});

async function expectViewsEqualOracle(events: readonly PageView[]): Promise<void> {
  expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(events));
  expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(events));
}

describe('when records are appended to several partitions', () => {
  it('should fold them into slices whose merged rows equal the oracle', async () => {
    const events = generateViews(300, 1);
    expect(new Set(events.map((e) => e.partition)).size).toBe(PARTITIONS);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });

    const stats = await speed.runOnce();

    expect(stats).toMatchObject({ records: 300, deadLettered: 0, backlog: false });
    await expectViewsEqualOracle(events);
    // Not vacuous: several keys and windows, and the window max is really a max.
    expect(Object.keys(expectedUrlRows(events)).length).toBeGreaterThan(10);
  });

  it('should report positions equal to the log end offsets once caught up, for every view', async () => {
    const events = generateViews(120, 2);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    expect(speed.positions(URL_VIEW)).toEqual([0, 0, 0]);

    await speed.runOnce();

    const ends = await platform.log.endOffsets(TOPIC);
    expect(ends.reduce((a, b) => a + b, 0)).toBe(120);
    expect(speed.positions(URL_VIEW)).toEqual(ends);
    expect(speed.positions(USER_VIEW)).toEqual(ends);
    expect(speed.positions('no_such_view')).toEqual([]);
  });

  it('should commit the consumer offsets at the positions', async () => {
    const first = generateViews(50, 3);
    await appendViews(platform.log, first);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    expect(await committedArray(platform.log)).toEqual([undefined, undefined, undefined]);

    await speed.runOnce();
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));

    const second = generateViews(40, 4);
    await appendViews(platform.log, second);
    await speed.runOnce();
    const ends = await platform.log.endOffsets(TOPIC);
    expect(await committedArray(platform.log)).toEqual(ends);
    expect(speed.positions(URL_VIEW)).toEqual(ends);
    await expectViewsEqualOracle([...first, ...second]);
  });

  it('should write only what a slice covers: each slice ends at the offsets read so far', async () => {
    await appendViews(platform.log, [
      { partition: 0, url: '/a', latency: 1, ts: T0 },
      { partition: 0, url: '/a', latency: 2, ts: T0 },
      { partition: 2, url: '/b', latency: 3, ts: T0 },
    ]);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    const stats = await speed.runOnce();

    const slices = await platform.store.listSlices(URL_VIEW);
    expect(slices.map(({ partition, start, end, closed }) => ({ partition, start, end, closed }))).toEqual([
      { partition: 0, start: 0, end: 2, closed: false },
      { partition: 2, start: 0, end: 1, closed: false },
    ]);
    expect(slices.every((slice) => typeof slice.newestRecordAt === 'number')).toBe(true);
    // Two views, two partitions with records each.
    expect(stats.slicesWritten).toBe(4);
  });

  it('should run micro-batches requested at the same time one after the other, never reading a record twice', async () => {
    const events = generateViews(60, 5);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });

    const [first, second, third] = await Promise.all([speed.runOnce(), speed.runOnce(), speed.runOnce()]);

    expect([first!.records, second!.records, third!.records]).toEqual([60, 0, 0]);
    await expectViewsEqualOracle(events);
  });

  it('should write only the rows a micro-batch changed, each with its absolute state', async () => {
    const store = new FaultyViewStore(platform.store);
    const events = generateViews(90, 6);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog: makeUrlOnlyCatalog() });
    await speed.runOnce();
    const firstWrites = store.putSlices.length;

    // A late record for partition 0's busiest row.
    const [busiest] = Object.entries(expectedUrlRows(events.filter((e) => e.partition === 0))).sort(([, a], [, b]) => Number(b.views) - Number(a.views));
    expect(busiest![1].views).toBeGreaterThan(1);
    const [url, windowText] = busiest![0].split('@');
    const late: PageView = { partition: 0, url: url!, user: 'ada', latency: 5000, ts: Number(windowText) + 1 };
    await appendViews(platform.log, [late]);
    await speed.runOnce();

    expect(store.putSlices.slice(firstWrites).map((s) => s.partition)).toEqual([0]);
    const [rows] = store.putRows.slice(firstWrites);
    // The one row changed holds everything partition 0's slice has counted for it, not an increment.
    expect(rows).toEqual([{ key: url, windowStart: Number(windowText), state: expect.anything() }]);
    const expected = expectedUrlRows([...events, late].filter((e) => e.partition === 0))[busiest![0]];
    expect(urlView.result(urlView.fromJson(rows![0]!.state as never))).toEqual(expected);
    expect(expected).toMatchObject({ views: Number(busiest![1].views) + 1, slowest: 5000 });
  });

  it('should run an empty micro-batch without writing or committing anything', async () => {
    const store = new FaultyViewStore(platform.store);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });

    const stats = await speed.runOnce();

    expect(stats).toMatchObject({ records: 0, deadLettered: 0, slicesWritten: 0, slicesCut: 0, backlog: false });
    expect(store.putSlices).toEqual([]);
    expect(await committedArray(platform.log)).toEqual([undefined, undefined, undefined]);
  });
});

describe('when committing offsets', () => {
  it('should commit only once every slice reaching the committed offsets is in the store', async () => {
    const log = new FaultyEventLog(platform.log);
    const checks: { offsets: Map<number, number>; ends: Record<string, number[]> }[] = [];
    log.beforeCommit = async (_group, _topic, offsets) => {
      const ends: Record<string, number[]> = {};
      for (const view of [URL_VIEW, USER_VIEW]) {
        const slices = await platform.store.listSlices(view);
        ends[view] = Array.from({ length: PARTITIONS }, (_, p) => Math.max(0, ...slices.filter((s) => s.partition === p).map((s) => s.end)));
      }
      checks.push({ offsets: new Map(offsets), ends });
    };
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: platform.store, catalog, slicePolicy: { microBatches: 2 } });

    for (let batch = 0; batch < 4; batch++) {
      await appendViews(platform.log, generateViews(20, 10 + batch));
      await speed.runOnce();
    }

    expect(checks).toHaveLength(4);
    for (const { offsets, ends } of checks) {
      for (const [partition, offset] of offsets) {
        expect(ends[URL_VIEW]![partition]).toBeGreaterThanOrEqual(offset);
        expect(ends[USER_VIEW]![partition]).toBeGreaterThanOrEqual(offset);
      }
    }
  });

  it('should not move the committed offsets when a slice write fails', async () => {
    const store = new FaultyViewStore(platform.store);
    const first = generateViews(30, 20);
    await appendViews(platform.log, first);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    await speed.runOnce();
    const committedBefore = await committedArray(platform.log);
    expect(committedBefore).toEqual(await platform.log.endOffsets(TOPIC));

    const second = generateViews(30, 21);
    await appendViews(platform.log, second);
    store.failPutSlice = () => true;
    await expect(speed.runOnce()).rejects.toThrow(/injected putSlice failure/);
    expect(await committedArray(platform.log)).toEqual(committedBefore);

    store.failPutSlice = undefined;
    await speed.runOnce();
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
    await expectViewsEqualOracle([...first, ...second]);
  });

  it('should commit nothing when the very first slice write fails', async () => {
    const store = new FaultyViewStore(platform.store);
    await appendViews(platform.log, generateViews(10, 22));
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    store.failNext((slice) => slice.partition === 1);

    await expect(speed.runOnce()).rejects.toThrow();

    expect(await platform.log.committedOffsets(GROUP, TOPIC)).toEqual(new Map());
  });

  it('should commit what a failed micro-batch made durable at the next one, even without new records there', async () => {
    const store = new FaultyViewStore(platform.store);
    const events: PageView[] = [
      { partition: 0, url: '/a', user: 'ada', latency: 1, ts: T0 },
      { partition: 1, url: '/b', user: 'bob', latency: 2, ts: T0 },
    ];
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog });
    // Partition 1's slices are written; partition 0's url slice is not.
    store.failNext((slice) => slice.view === URL_VIEW && slice.partition === 0);
    await expect(speed.runOnce()).rejects.toThrow(/injected/);
    expect(await committedArray(platform.log)).toEqual([undefined, undefined, undefined]);

    await speed.runOnce();

    expect(speed.positions(URL_VIEW)).toEqual([1, 1, 0]);
    expect(await committedArray(platform.log)).toEqual([1, 1, undefined]);
    await expectViewsEqualOracle(events);
  });

  it('should commit the positions a previous process made durable without committing', async () => {
    const store = new FaultyViewStore(platform.store);
    const log = new FaultyEventLog(platform.log);
    const events = generateViews(20, 24);
    await appendViews(platform.log, events);
    const crashed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog });
    log.beforeCommit = async () => {
      throw new Error('injected commit failure');
    };
    await expect(crashed.runOnce()).rejects.toThrow(/injected commit failure/);
    expect(await committedArray(platform.log)).toEqual([undefined, undefined, undefined]);

    const restarted = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    const ends = await platform.log.endOffsets(TOPIC);
    expect(restarted.positions(URL_VIEW)).toEqual(ends);
    expect((await restarted.runOnce()).records).toBe(0);
    expect(await committedArray(platform.log)).toEqual(ends);
    await expectViewsEqualOracle(events);
  });

  it('should commit under the configured consumer group', async () => {
    await appendViews(platform.log, generateViews(10, 23));
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, consumerGroup: 'realtime' });
    await speed.runOnce();
    expect(await committedArray(platform.log, TOPIC, 'realtime')).toEqual(await platform.log.endOffsets(TOPIC));
    expect(await platform.log.committedOffsets(GROUP, TOPIC)).toEqual(new Map());
  });
});

describe('when event times arrive late or out of order', () => {
  it('should update the old windows and create windows for the new times', async () => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    const first: PageView[] = [
      { partition: 0, url: '/a', user: 'ada', latency: 100, ts: T0 + 5 * MINUTE + 1 },
      { partition: 0, url: '/a', user: 'ada', latency: 300, ts: T0 + 5 * MINUTE + 59_999 },
      { partition: 1, url: '/a', user: 'bob', latency: 50, ts: T0 + 6 * MINUTE },
    ];
    await appendViews(platform.log, first);
    await speed.runOnce();
    expect(await mergedSliceRows(platform.store, urlView)).toEqual({
      [`/a@${T0 + 5 * MINUTE}`]: { views: 2, total: 400, slowest: 300 },
      [`/a@${T0 + 6 * MINUTE}`]: { views: 1, total: 50, slowest: 50 },
    });

    // Out of order within the batch, and hours late for the earlier windows.
    const second: PageView[] = [
      { partition: 0, url: '/a', user: 'cy', latency: 900, ts: T0 + 5 * MINUTE + 30_000 },
      { partition: 2, url: '/a', user: 'cy', latency: 10, ts: T0 - 3 * 60 * MINUTE },
      { partition: 1, url: '/a', user: 'bob', latency: 20, ts: T0 + 9 * MINUTE },
      { partition: 1, url: '/a', user: 'bob', latency: 40, ts: T0 + 6 * MINUTE + 1 },
      { partition: 0, url: '/b', latency: null, ts: T0 + 5 * MINUTE },
    ];
    await appendViews(platform.log, second);
    await speed.runOnce();

    const rows = await mergedSliceRows(platform.store, urlView);
    expect(rows).toEqual(expectedUrlRows([...first, ...second]));
    expect(rows[`/a@${T0 + 5 * MINUTE}`]).toEqual({ views: 3, total: 1300, slowest: 900 });
    expect(rows[`/a@${T0 + 6 * MINUTE}`]).toEqual({ views: 2, total: 90, slowest: 50 });
    expect(rows[`/a@${T0 - 180 * MINUTE}`]).toEqual({ views: 1, total: 10, slowest: 10 });
    expect(rows[`/b@${T0 + 5 * MINUTE}`]).toEqual({ views: 1, total: 0, slowest: null });
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows([...first, ...second]));
  });

  it('should count a late record in a slice cut after its window was first written', async () => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, slicePolicy: { microBatches: 1 } });
    const events: PageView[] = [];
    for (let batch = 0; batch < 4; batch++) {
      // Each batch goes back to the first window, which sits in an earlier, closed slice by now.
      const more: PageView[] = [
        { partition: 0, url: '/x', user: 'ada', latency: batch * 10, ts: T0 + 12_345 },
        { partition: 0, url: '/x', user: 'ada', latency: 1, ts: T0 + (4 - batch) * MINUTE },
      ];
      events.push(...more);
      await appendViews(platform.log, more);
      await speed.runOnce();
    }
    const slices = await platform.store.listSlices(URL_VIEW);
    expect(slices).toHaveLength(4);
    expect(slices.every((slice) => slice.closed)).toBe(true);
    const rows = await mergedSliceRows(platform.store, urlView);
    expect(rows).toEqual(expectedUrlRows(events));
    expect(rows[`/x@${T0}`]).toEqual({ views: 4, total: 60, slowest: 30 });
  });

  it('should accept ISO-8601 event times like epoch milliseconds', async () => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    await platform.log.append(TOPIC, [
      { partition: 0, value: JSON.stringify({ url: '/iso', latency: 7, ts: new Date(T0 + 90_000).toISOString() }) },
      { partition: 0, value: JSON.stringify({ url: '/iso', latency: 8, ts: T0 + 61_000 }) },
    ]);
    await speed.runOnce();
    expect(await mergedSliceRows(platform.store, urlView)).toEqual({ [`/iso@${T0 + MINUTE}`]: { views: 2, total: 15, slowest: 8 } });
  });
});

describe('when the slice policy cuts every 2 micro-batches', () => {
  const sliceShape = ({ partition, start, end, closed }: Slice) => ({ partition, start, end, closed });

  it('should close slices at micro-batch edges that chain contiguously, and continue the open slice from the last end', async () => {
    const speed = await SpeedLayer.create({
      eventLog: platform.log,
      viewStore: platform.store,
      catalog: makeUrlOnlyCatalog(),
      slicePolicy: { microBatches: 2 },
    });
    const view = (n: number, partition: number): PageView => ({ partition, url: `/p${partition}`, user: 'ada', latency: n, ts: T0 + n * 1000 });
    const all: PageView[] = [];
    // Per micro-batch: how many records each partition gets.
    const plan = [
      [3, 1, 0],
      [2, 0, 0],
      [0, 0, 0], // a micro-batch without records does not count towards the cut
      [1, 2, 0],
      [4, 0, 0],
      [2, 0, 0],
    ];
    const cutsPerBatch: number[] = [];
    const endsAfter: number[][] = [];
    for (const counts of plan) {
      const batch = counts.flatMap((count, partition) => Array.from({ length: count }, (_, i) => view(all.length + i * 7 + partition, partition)));
      all.push(...batch);
      await appendViews(platform.log, batch);
      cutsPerBatch.push((await speed.runOnce()).slicesCut);
      endsAfter.push(await platform.log.endOffsets(TOPIC));
    }

    // Partition 0 has records in batches 1, 2, 4, 5, 6: cuts after 2 and 5. Partition 1 in 1 and 4: cut after 4.
    expect(cutsPerBatch).toEqual([0, 1, 0, 1, 1, 0]);
    const slices = await platform.store.listSlices(URL_VIEW);
    expect(slices.map(sliceShape)).toEqual([
      { partition: 0, start: 0, end: endsAfter[1]![0]!, closed: true },
      { partition: 0, start: endsAfter[1]![0]!, end: endsAfter[4]![0]!, closed: true },
      { partition: 0, start: endsAfter[4]![0]!, end: endsAfter[5]![0]!, closed: false },
      { partition: 1, start: 0, end: endsAfter[3]![1]!, closed: true },
    ]);
    expect(endsAfter[5]).toEqual([12, 3, 0]);
    expectContiguous(slices);
    expect(speed.positions(URL_VIEW)).toEqual([12, 3, 0]);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(all));

    // The open slice of partition 1 (empty since its cut) starts at the cut and picks up new records.
    const late = [view(99, 1)];
    all.push(...late);
    await appendViews(platform.log, late);
    await speed.runOnce();
    const after = await platform.store.listSlices(URL_VIEW);
    expect(after.filter((s) => s.partition === 1).map(sliceShape)).toEqual([
      { partition: 1, start: 0, end: 3, closed: true },
      { partition: 1, start: 3, end: 4, closed: false },
    ]);
    expectContiguous(after);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(all));
  });

  it('should cut every slice with records at once when the maximum age is 0', async () => {
    const speed = await SpeedLayer.create({
      eventLog: platform.log,
      viewStore: platform.store,
      catalog,
      slicePolicy: { maxAgeMs: 0 },
    });
    const events = generateViews(30, 30);
    await appendViews(platform.log, events);
    const stats = await speed.runOnce();

    const slices = await platform.store.listSlices(URL_VIEW);
    expect(slices.length).toBe(PARTITIONS);
    expect(slices.every((slice) => slice.closed)).toBe(true);
    expect(stats.slicesCut).toBe(2 * PARTITIONS);
    // A micro-batch without records cuts nothing (the new open slices are empty).
    expect((await speed.runOnce()).slicesCut).toBe(0);
    await expectViewsEqualOracle(events);
  });
});

describe('when the backlog exceeds maxRecordsPerPartition', () => {
  it('should work through it over several micro-batches, reporting a backlog until caught up, and stay exact', async () => {
    const events: PageView[] = [
      ...Array.from({ length: 10 }, (_, i): PageView => ({ partition: 0, url: `/u${i % 3}`, user: 'ada', latency: i, ts: T0 + i * 17_000 })),
      ...Array.from({ length: 4 }, (_, i): PageView => ({ partition: 1, url: `/u${i % 2}`, user: 'bob', latency: 100 + i, ts: T0 - i * 23_000 })),
    ];
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, maxRecordsPerPartition: 3 });

    const runs: { records: number; backlog: boolean; positions: number[] }[] = [];
    for (let i = 0; i < 6; i++) {
      const stats = await speed.runOnce();
      runs.push({ records: stats.records, backlog: stats.backlog, positions: speed.positions(URL_VIEW) });
      if (!stats.backlog) break;
    }

    expect(runs).toEqual([
      { records: 6, backlog: true, positions: [3, 3, 0] },
      { records: 4, backlog: true, positions: [6, 4, 0] },
      { records: 3, backlog: true, positions: [9, 4, 0] },
      { records: 1, backlog: false, positions: [10, 4, 0] },
    ]);
    expect(await committedArray(platform.log)).toEqual([10, 4, undefined]);
    await expectViewsEqualOracle(events);
  });
});

describe('when metrics are given', () => {
  it('should count records, dead letters and cut slices per topic', async () => {
    const metrics = new Metrics();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, metrics, slicePolicy: { microBatches: 1 } });
    await appendViews(platform.log, [
      { partition: 0, url: '/a', latency: 1, ts: T0 },
      { partition: 1, url: '/a', latency: 1, ts: T0 },
      { partition: 1, url: '/b', latency: 1, ts: T0 },
    ]);
    await platform.log.append(TOPIC, [{ partition: 2, value: 'not json' }]);
    await speed.runOnce();
    await appendViews(platform.log, [{ partition: 0, url: '/a', latency: 1, ts: T0 }]);
    await speed.runOnce();

    const text = await metrics.render();
    expect(text).toMatch(/^lambda_speed_records_total\{topic="pageviews"\} 5$/m);
    expect(text).toMatch(/^lambda_speed_dead_letters_total\{topic="pageviews"\} 1$/m);
    // Batch 1: two views × three partitions (partition 2's slice covers the dead letter); batch 2: two views × partition 0.
    expect(text).toMatch(/^lambda_speed_slices_cut_total\{topic="pageviews"\} 8$/m);
    expect(text).toMatch(/^lambda_speed_micro_batch_seconds_count 2$/m);
  });
});

describe('when a source topic does not exist yet', () => {
  it('should create it and its dead-letter topic with the default partitions', async () => {
    const other = makeCatalogFor('clicks');
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog: other, defaultPartitions: 2 });
    expect(await platform.log.describeTopic('clicks')).toEqual({ name: 'clicks', partitions: 2 });
    expect(await platform.log.describeTopic('clicks.dead-letter')).toEqual({ name: 'clicks.dead-letter', partitions: 2 });
    expect(speed.positions('clicks_by_url')).toEqual([0, 0]);
  });
});

function makeCatalogFor(topic: string): Catalog {
  const base = makeCatalog();
  const source = base.sources.get(TOPIC)!.definition;
  return Catalog.compile({
    sources: [{ ...source, topic }],
    views: [{ name: `${topic}_by_url`, source: topic, key: 'url', aggregates: { n: 'count()' } }],
  });
}
