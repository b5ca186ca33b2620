import type { Catalog, CompiledView } from '@lambda/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer, type SpeedLayerOptions } from '../src/index.js';
import {
  DEAD_LETTER_TOPIC,
  FaultyViewStore,
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
  mergedSliceRows,
  openPlatform,
  readAll,
  type PageView,
  type Platform,
} from './helpers.js';

let platform: Platform;
let catalog: Catalog;
let urlView: CompiledView;
let userView: CompiledView;

beforeEach(async () => {
  platform = await openPlatform('recovery');
  catalog = makeCatalog();
  urlView = catalog.views.get(URL_VIEW)!;
  userView = catalog.views.get(USER_VIEW)!;
});

afterEach(async () => {
  await platform.cleanUp();
});

function create(options: Partial<SpeedLayerOptions> = {}): Promise<SpeedLayer> {
  return SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, ...options });
}

async function expectBothViews(events: readonly PageView[]): Promise<void> {
  expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(events));
  expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(events));
}

describe('when a new speed layer takes over the log and store (a restart)', () => {
  it('should restore the open slices with their rows and count each record exactly once', async () => {
    const first = generateViews(90, 100);
    await appendViews(platform.log, first);
    const before = await create();
    await before.runOnce();
    const ends = await platform.log.endOffsets(TOPIC);
    const stored = await platform.store.listSlices(URL_VIEW);
    expect(stored.every((slice) => !slice.closed && slice.start === 0)).toBe(true);

    // The old instance is abandoned without stop, as a crashed process would be.
    const after = await create();
    expect(after.positions(URL_VIEW)).toEqual(ends);
    expect(after.positions(USER_VIEW)).toEqual(ends);
    expect((await after.runOnce()).records).toBe(0);

    // Same urls, users and minutes as before: the restored rows are added to, not replaced.
    const second = generateViews(60, 101);
    await appendViews(platform.log, second);
    await after.runOnce();

    await expectBothViews([...first, ...second]);
    const slices = await platform.store.listSlices(URL_VIEW);
    expect(slices.map((s) => ({ partition: s.partition, start: s.start, closed: s.closed }))).toEqual(
      stored.map((s) => ({ partition: s.partition, start: 0, closed: false })),
    );
    expect(speedEnds(slices)).toEqual(await platform.log.endOffsets(TOPIC));
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
  });

  it('should open a new slice at the end of the last one when it was closed', async () => {
    const first = generateViews(60, 110);
    await appendViews(platform.log, first);
    await (await create({ slicePolicy: { microBatches: 1 } })).runOnce();
    const ends = await platform.log.endOffsets(TOPIC);
    expect((await platform.store.listSlices(URL_VIEW)).every((slice) => slice.closed)).toBe(true);

    const after = await create({ slicePolicy: { microBatches: 1 } });
    expect(after.positions(URL_VIEW)).toEqual(ends);
    const second = generateViews(45, 111);
    await appendViews(platform.log, second);
    await after.runOnce();

    await expectBothViews([...first, ...second]);
    const slices = await platform.store.listSlices(URL_VIEW);
    expectContiguous(slices);
    expect(slices.filter((s) => s.start === 0).map((s) => s.end)).toEqual(ends);
    expect(slices).toHaveLength(2 * PARTITIONS);
  });

  it('should redo a micro-batch that failed before anything was committed', async () => {
    const store = new FaultyViewStore(platform.store);
    const first = generateViews(40, 120);
    await appendViews(platform.log, first);
    const crashed = await create({ viewStore: store });
    store.failPutSlice = () => true;
    await expect(crashed.runOnce()).rejects.toThrow(/injected/);
    store.failPutSlice = undefined;

    const after = await create();
    expect(after.positions(URL_VIEW)).toEqual([0, 0, 0]);
    const second = generateViews(20, 121);
    await appendViews(platform.log, second);
    await after.runOnce();
    await expectBothViews([...first, ...second]);
  });

  it('should resume each view at its own position when one view was written and the other was not', async () => {
    const store = new FaultyViewStore(platform.store);
    const first = generateViews(40, 130);
    await appendViews(platform.log, first);
    const before = await create({ viewStore: store });
    await before.runOnce();
    const ends = await platform.log.endOffsets(TOPIC);

    const second = generateViews(40, 131);
    await appendViews(platform.log, second);
    store.failNext((slice) => slice.view === USER_VIEW, PARTITIONS);
    await expect(before.runOnce()).rejects.toThrow(/injected/);
    // The url view's slices moved on; the user view's did not; the group did not.
    const urlEnds = speedEnds(await platform.store.listSlices(URL_VIEW));
    expect(urlEnds).toEqual(await platform.log.endOffsets(TOPIC));
    expect(speedEnds(await platform.store.listSlices(USER_VIEW))).toEqual(ends);
    expect(await committedArray(platform.log)).toEqual(ends);

    const after = await create();
    expect(after.positions(URL_VIEW)).toEqual(urlEnds);
    expect(after.positions(USER_VIEW)).toEqual(ends);
    const third = generateViews(15, 132);
    await appendViews(platform.log, third);
    await after.runOnce();

    await expectBothViews([...first, ...second, ...third]);
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
  });
});

describe('when one view is behind the other after a restart', () => {
  it('should commit the lower position while the lagging view catches up, a read limit at a time', async () => {
    const store = new FaultyViewStore(platform.store);
    const first = generateViews(30, 180);
    await appendViews(platform.log, first);
    const before = await create({ viewStore: store });
    await before.runOnce();
    const userEnds = await platform.log.endOffsets(TOPIC);
    const second = generateViews(45, 181);
    await appendViews(platform.log, second);
    store.failNext((slice) => slice.view === USER_VIEW, PARTITIONS);
    await expect(before.runOnce()).rejects.toThrow(/injected/);
    const urlEnds = await platform.log.endOffsets(TOPIC);
    urlEnds.forEach((end, p) => expect(end - userEnds[p]!).toBeGreaterThan(2));

    const after = await create({ maxRecordsPerPartition: 2 });
    const stats = await after.runOnce();

    expect(stats.backlog).toBe(true);
    expect(after.positions(URL_VIEW)).toEqual(urlEnds);
    const userNow = userEnds.map((end) => end + 2);
    expect(after.positions(USER_VIEW)).toEqual(userNow);
    expect(await committedArray(platform.log)).toEqual(userNow);

    for (let i = 0; i < 50 && (await after.runOnce()).backlog; i++);
    await expectBothViews([...first, ...second]);
    expect(await committedArray(platform.log)).toEqual(urlEnds);
  });
});

describe('when one view fails to write its slice once', () => {
  it('should reject the micro-batch, then recover in the same instance with both views exact', async () => {
    const store = new FaultyViewStore(platform.store);
    const speed = await create({ viewStore: store, slicePolicy: { microBatches: 2 } });
    const events: PageView[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const more = generateViews(25, 140 + batch);
      events.push(...more);
      await appendViews(platform.log, more);
      await speed.runOnce();
    }
    const committed = await committedArray(platform.log);

    const failing = generateViews(30, 150);
    events.push(...failing);
    await appendViews(platform.log, failing);
    store.failNext((slice) => slice.view === USER_VIEW && slice.partition === 1);
    await expect(speed.runOnce()).rejects.toThrow(/injected putSlice failure \(latency_by_user p1\)/);
    expect(await committedArray(platform.log)).toEqual(committed);
    // Not vacuous: the store now holds the url view ahead of the user view on partition 1.
    const urlEnd = speedEnds(await platform.store.listSlices(URL_VIEW))[1]!;
    const userEnd = speedEnds(await platform.store.listSlices(USER_VIEW))[1]!;
    expect(urlEnd).toBeGreaterThan(userEnd);

    const more = generateViews(20, 151);
    events.push(...more);
    await appendViews(platform.log, more);
    await speed.runOnce();

    await expectBothViews(events);
    const ends = await platform.log.endOffsets(TOPIC);
    expect(speed.positions(URL_VIEW)).toEqual(ends);
    expect(speed.positions(USER_VIEW)).toEqual(ends);
    expect(await committedArray(platform.log)).toEqual(ends);
    expectContiguous(await platform.store.listSlices(URL_VIEW));
    expectContiguous(await platform.store.listSlices(USER_VIEW));
  });

  it('should recover when the failed write was the one cutting a slice', async () => {
    const store = new FaultyViewStore(platform.store);
    const speed = await create({ viewStore: store, slicePolicy: { microBatches: 2 } });
    const events = generateViews(20, 160);
    await appendViews(platform.log, events);
    await speed.runOnce();
    const second = generateViews(20, 161);
    events.push(...second);
    await appendViews(platform.log, second);
    // The second micro-batch cuts every slice with records; the url view's cut on partition 0 fails.
    store.failNext((slice) => slice.view === URL_VIEW && slice.partition === 0 && slice.closed);
    await expect(speed.runOnce()).rejects.toThrow(/injected/);

    for (let i = 0; i < 3; i++) {
      const more = generateViews(10, 162 + i);
      events.push(...more);
      await appendViews(platform.log, more);
      await speed.runOnce();
    }
    await expectBothViews(events);
    expectContiguous(await platform.store.listSlices(URL_VIEW));
    expectContiguous(await platform.store.listSlices(USER_VIEW));
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
  });
});

describe('when a batch view was published with a horizon above every stored slice', () => {
  it('should resume that view at the horizon, and the others at their slices', async () => {
    const first = generateViews(30, 170);
    await appendViews(platform.log, first);
    await (await create({ slicePolicy: { microBatches: 1 } })).runOnce();
    // The speed layer was down while more arrived; the batch layer covered it all.
    const second = generateViews(30, 171);
    await appendViews(platform.log, second);
    const horizon = await platform.log.endOffsets(TOPIC);
    await platform.store.publishBatchVersion({ view: URL_VIEW, version: 1, horizon, publishedAt: Date.now(), newestRecordAt: null });
    const below = (await platform.store.listSlices(URL_VIEW)).filter((slice) => slice.end <= horizon[slice.partition]!);
    expect(below.length).toBe(PARTITIONS);
    await platform.store.deleteSlices(below);
    expect(await platform.store.listSlices(URL_VIEW)).toEqual([]);

    const after = await create({ slicePolicy: { microBatches: 1 } });
    expect(after.positions(URL_VIEW)).toEqual(horizon);
    const third = generateViews(30, 172);
    await appendViews(platform.log, third);
    await after.runOnce();

    const slices = await platform.store.listSlices(URL_VIEW);
    expectContiguous(slices, horizon);
    expect(slices.map((s) => s.start)).toEqual(horizon);
    // The slices hold exactly what the batch view does not.
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(third));
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows([...first, ...second, ...third]));
    expect(after.positions(URL_VIEW)).toEqual(await platform.log.endOffsets(TOPIC));
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
  });

  it('should start at the horizon on a partition that never had a slice', async () => {
    await appendViews(platform.log, [
      { partition: 2, url: '/h', latency: 1, ts: T0 },
      { partition: 2, url: '/h', latency: 2, ts: T0 },
    ]);
    await platform.store.publishBatchVersion({ view: URL_VIEW, version: 3, horizon: [0, 0, 2], publishedAt: Date.now(), newestRecordAt: null });
    const speed = await create();
    expect(speed.positions(URL_VIEW)).toEqual([0, 0, 2]);
    await appendViews(platform.log, [{ partition: 2, url: '/h', latency: 4, ts: T0 }]);
    await speed.runOnce();
    expect(await mergedSliceRows(platform.store, urlView)).toEqual({ [`/h@${T0}`]: { views: 1, total: 4, slowest: 4 } });
    expect(await mergedSliceRows(platform.store, userView)).toEqual({});
    expect(await platform.store.listSlices(URL_VIEW)).toMatchObject([{ partition: 2, start: 2, end: 3 }]);
  });
});

describe('whatever the micro-batch sizes, cuts, failures and restarts', () => {
  type Step =
    | { kind: 'append'; count: number; seed: number }
    | { kind: 'garbage'; partition: number }
    | { kind: 'run' }
    | { kind: 'restart' }
    | { kind: 'fail'; view: string; partition: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 12 }), seed: fc.integer({ min: 0, max: 1_000_000 }) }),
    fc.record({ kind: fc.constant('garbage' as const), partition: fc.integer({ min: 0, max: PARTITIONS - 1 }) }),
    fc.constant({ kind: 'run' as const }),
    fc.constant({ kind: 'restart' as const }),
    fc.record({ kind: fc.constant('fail' as const), view: fc.constantFrom(URL_VIEW, USER_VIEW), partition: fc.integer({ min: 0, max: PARTITIONS - 1 }) }),
  );

  it('should end with every view equal to the oracle, caught up and committed, each invalid record dead-lettered once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        async (steps, microBatches, maxRecordsPerPartition) => {
          const run = await openPlatform('property');
          try {
            const store = new FaultyViewStore(run.store);
            const options = { eventLog: run.log, viewStore: store, catalog, slicePolicy: { microBatches }, maxRecordsPerPartition };
            let speed = await SpeedLayer.create(options);
            const events: PageView[] = [];
            let garbage = 0;
            for (const s of steps) {
              if (s.kind === 'append') {
                const more = generateViews(s.count, s.seed);
                events.push(...more);
                await appendViews(run.log, more);
              } else if (s.kind === 'garbage') {
                garbage++;
                await run.log.append(TOPIC, [{ partition: s.partition, value: `garbage ${garbage}` }]);
              } else if (s.kind === 'run') {
                await speed.runOnce();
              } else if (s.kind === 'restart') {
                speed = await SpeedLayer.create(options);
              } else {
                store.failNext((slice) => slice.view === s.view && slice.partition === s.partition);
                await speed.runOnce().catch(() => undefined);
                store.failPutSlice = undefined;
              }
            }
            for (let i = 0; i < 200; i++) if (!(await speed.runOnce()).backlog) break;

            const ends = await run.log.endOffsets(TOPIC);
            expect(await mergedSliceRows(run.store, urlView)).toEqual(expectedUrlRows(events));
            expect(await mergedSliceRows(run.store, userView)).toEqual(expectedUserRows(events));
            expect(speed.positions(URL_VIEW)).toEqual(ends);
            expect(speed.positions(USER_VIEW)).toEqual(ends);
            if (ends.some((end) => end > 0)) {
              const committed = await run.log.committedOffsets('speed-layer', TOPIC);
              ends.forEach((end, partition) => {
                if (end > 0) expect(committed.get(partition)).toBe(end);
              });
            }
            expectContiguous(await run.store.listSlices(URL_VIEW));
            expectContiguous(await run.store.listSlices(USER_VIEW));
            expect(await readAll(run.log, DEAD_LETTER_TOPIC)).toHaveLength(garbage);
          } finally {
            await run.cleanUp();
          }
        },
      ),
      { numRuns: 40, seed: 20260101 },
    );
    // 10 to 18 s alone, 30 s beside every other package's tests on two cores: the limit catches a hang.
  }, 120_000);
});

/** Per partition, the end of a view's last slice (0 without one). */
function speedEnds(slices: readonly { partition: number; end: number }[]): number[] {
  return Array.from({ length: PARTITIONS }, (_, p) => Math.max(0, ...slices.filter((s) => s.partition === p).map((s) => s.end)));
}
