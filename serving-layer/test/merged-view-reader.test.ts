import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformError, UnknownViewError, type EmbeddedViewStore, seededRandom } from '@lambda/core';
import { MergedViewReader } from '../src/index.js';
import {
  BASE,
  MINUTE,
  URLS,
  VIEW,
  below,
  generateRecords,
  naiveAnswer,
  newestOf,
  openTestStore,
  publishBatch,
  putSlice,
  testCatalog,
  type PageView,
} from './helpers.js';

const NOW = BASE + 30 * MINUTE;
const catalog = testCatalog();

describe('MergedViewReader over a real embedded view store', () => {
  let store: EmbeddedViewStore;
  let close: () => Promise<void>;
  let reader: MergedViewReader;

  beforeEach(async () => {
    ({ store, close } = await openTestStore());
    reader = new MergedViewReader(store, catalog, { now: () => NOW });
  });

  afterEach(async () => {
    await close();
  });

  describe('with a published batch version and slices below and above its horizon', () => {
    // Three partitions; the log holds 60, 50 and 30 records. Version 3 covers offsets below [20, 30]
    // (partition 2 is not in its horizon, so from 0). Slices below the horizon are still there, not
    // cleaned up yet, and hold real data: merging them would count records twice.
    const records = generateRecords(seededRandom(42), [60, 50, 30]);
    const position = [48, 30, 25];
    const counted = below(records, position);

    beforeEach(async () => {
      await publishBatch(store, records, 1, [10, 0], BASE + 15 * MINUTE); // an older version, superseded
      await publishBatch(store, records, 3, [20, 30], BASE + 20 * MINUTE);
      for (const edges of [
        { partition: 0, start: 0, end: 10, closed: true },
        { partition: 0, start: 10, end: 20, closed: true },
        { partition: 0, start: 20, end: 35, closed: true },
        { partition: 0, start: 35, end: 48, closed: false },
        { partition: 1, start: 0, end: 30, closed: true },
        { partition: 2, start: 0, end: 12, closed: true },
        { partition: 2, start: 12, end: 25, closed: true },
        { partition: 2, start: 25, end: 25, closed: false }, // opened, nothing in it yet
      ]) {
        await putSlice(store, records, edges);
      }
    });

    it('should answer exactly the records below its position, with full provenance', async () => {
      const answer = await reader.read(VIEW);

      expect(answer.view).toBe(VIEW);
      expect(answer.windows).toEqual(naiveAnswer(counted));
      // The data set discriminates: counting the slices below the horizon, or every record in the log,
      // would give another answer.
      expect(answer.windows).not.toEqual(naiveAnswer(records));
      expect(answer.windows.length).toBeGreaterThan(10);

      const newest = newestOf(counted)!;
      expect(answer.provenance).toEqual({
        batch: { version: 3, horizon: [20, 30], publishedAt: BASE + 20 * MINUTE },
        slices: [
          { partition: 0, start: 20, end: 35, closed: true },
          { partition: 0, start: 35, end: 48, closed: false },
          { partition: 2, start: 0, end: 12, closed: true },
          { partition: 2, start: 12, end: 25, closed: true },
          { partition: 2, start: 25, end: 25, closed: false },
        ],
        position,
        newestRecordAt: newest,
        freshnessMs: NOW - newest,
        attempts: 1,
      });
      // The newest counted record is in partition 0's open slice (offset 47), not in the batch version.
      expect(newest).toBe(records.find((r) => r.partition === 0 && r.offset === 47)!.timestamp);
    });

    it('should keep only the keys asked for', async () => {
      const keys = ['/a', '/c', '/not-a-page'];
      const answer = await reader.read(VIEW, { keys });

      expect(answer.windows).toEqual(naiveAnswer(counted, { keys }));
      expect(new Set(answer.windows.map((w) => w.key))).toEqual(new Set(['/a', '/c']));
      expect(answer.provenance.position).toEqual(position);
      expect(answer.provenance.slices).toHaveLength(5);
    });

    it('should keep windows starting from `from` (inclusive) to `to` (exclusive)', async () => {
      const from = BASE + MINUTE;
      const to = BASE + 4 * MINUTE;
      const all = await reader.read(VIEW);
      // Windows start exactly at both bounds, so the bounds are tested.
      expect(all.windows.some((w) => w.windowStart === from)).toBe(true);
      expect(all.windows.some((w) => w.windowStart === to)).toBe(true);

      const answer = await reader.read(VIEW, { from, to });
      expect(answer.windows).toEqual(naiveAnswer(counted, { from, to }));
      expect(answer.windows.some((w) => w.windowStart === from)).toBe(true);
      expect(answer.windows.every((w) => w.windowStart >= from && w.windowStart < to)).toBe(true);

      // A bound between window starts: the window starting before `from` is out, even though it ends after.
      expect((await reader.read(VIEW, { from: from + 1 })).windows).toEqual(naiveAnswer(counted, { from: from + MINUTE }));
      expect((await reader.read(VIEW, { to: to + 1 })).windows).toEqual(naiveAnswer(counted, { to: to + MINUTE }));
    });

    it('should combine keys with from and to', async () => {
      const query = { keys: ['/b', '/d'], from: BASE + 2 * MINUTE, to: BASE + 5 * MINUTE };
      const answer = await reader.read(VIEW, query);
      expect(answer.windows).toEqual(naiveAnswer(counted, query));
      expect(answer.windows.length).toBeGreaterThan(0);
    });

    it('should give each window its end', async () => {
      const answer = await reader.read(VIEW, { keys: ['/a'] });
      for (const window of answer.windows) expect(window.windowEnd).toBe(window.windowStart + MINUTE);
    });

    it('should report no freshness below zero when a record is stamped after now', async () => {
      const early = new MergedViewReader(store, catalog, { now: () => BASE });
      expect((await early.read(VIEW)).provenance.freshnessMs).toBe(0);
    });
  });

  describe('with a batch version and no slice above its horizon', () => {
    it('should answer the batch version alone, fresh as its newest record', async () => {
      const records = generateRecords(seededRandom(7), [25, 25]);
      const manifest = await publishBatch(store, records, 2, [25, 18]);
      await putSlice(store, records, { partition: 0, start: 0, end: 25, closed: true }); // covered, ignored

      const answer = await reader.read(VIEW);
      const counted = below(records, [25, 18]);
      expect(answer.windows).toEqual(naiveAnswer(counted));
      expect(answer.provenance).toEqual({
        batch: { version: 2, horizon: [25, 18], publishedAt: manifest.publishedAt },
        slices: [],
        position: [25, 18],
        newestRecordAt: newestOf(counted),
        freshnessMs: NOW - newestOf(counted)!,
        attempts: 1,
      });
    });
  });

  describe('before any batch version is published', () => {
    it('should answer from the slices alone', async () => {
      const records = generateRecords(seededRandom(3), [30, 12]);
      await putSlice(store, records, { partition: 0, start: 0, end: 15, closed: true });
      await putSlice(store, records, { partition: 0, start: 15, end: 22, closed: false });
      await putSlice(store, records, { partition: 1, start: 0, end: 9, closed: false });

      const answer = await reader.read(VIEW);
      const counted = below(records, [22, 9]);
      expect(answer.windows).toEqual(naiveAnswer(counted));
      expect(answer.provenance).toEqual({
        batch: null,
        slices: [
          { partition: 0, start: 0, end: 15, closed: true },
          { partition: 0, start: 15, end: 22, closed: false },
          { partition: 1, start: 0, end: 9, closed: false },
        ],
        position: [22, 9],
        newestRecordAt: newestOf(counted),
        freshnessMs: NOW - newestOf(counted)!,
        attempts: 1,
      });
    });

    it('should answer nothing, with no freshness, when there is no data at all', async () => {
      const answer = await reader.read(VIEW, { keys: ['/a'] });
      expect(answer).toEqual({
        view: VIEW,
        windows: [],
        provenance: { batch: null, slices: [], position: [], newestRecordAt: null, freshnessMs: null, attempts: 1 },
        next: null,
      });
    });
  });

  describe('a view without windows', () => {
    it('should merge its one row per key, with no window end', async () => {
      const state = (views: number) => [{ key: '*', windowStart: 0, state: { views } }];
      await store.putBatchRows('site_totals', 1, state(40));
      await store.publishBatchVersion({ view: 'site_totals', version: 1, horizon: [40], publishedAt: BASE, newestRecordAt: BASE - 5 });
      await store.putSlice({ view: 'site_totals', partition: 0, start: 0, end: 40, closed: true, newestRecordAt: BASE - 5 }, state(40));
      await store.putSlice({ view: 'site_totals', partition: 0, start: 40, end: 47, closed: false, newestRecordAt: BASE - 2 }, state(7));

      const answer = await reader.read('site_totals');
      expect(answer.windows).toEqual([{ key: '*', windowStart: 0, windowEnd: null, values: { views: 47 } }]);
      expect(answer.provenance.position).toEqual([47]);
      expect(answer.provenance.newestRecordAt).toBe(BASE - 2);
    });
  });

  describe('an unknown view', () => {
    it('should be an UnknownViewError naming it', async () => {
      const error = await reader.read('no_such_view').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownViewError);
      expect(error).toBeInstanceOf(PlatformError);
      expect((error as UnknownViewError).code).toBe('UNKNOWN_VIEW');
      expect((error as UnknownViewError).message).toContain('"no_such_view"');
      expect((error as UnknownViewError).context).toEqual({ view: 'no_such_view' });
      expect(() => reader.view('no_such_view')).toThrow(UnknownViewError);
    });

    it('should not be answered even when the store holds rows under that name', async () => {
      await store.putSlice({ view: 'stray', partition: 0, start: 0, end: 1, closed: true, newestRecordAt: 1 }, []);
      await expect(reader.read('stray')).rejects.toBeInstanceOf(UnknownViewError);
    });
  });
});

describe('MergedViewReader, for any split of the log into a batch version and slices', () => {
  /** One partition's plan: its records, the slice edges, and where the horizon falls among them. */
  const partitionPlan = fc.record({
    records: fc.integer({ min: 0, max: 25 }),
    edges: fc.uniqueArray(fc.integer({ min: 1, max: 25 }), { maxLength: 5 }),
    horizonAt: fc.nat(),
    lastOpen: fc.boolean(),
  });
  const query = fc.record(
    {
      keys: fc.subarray([...URLS, '/nowhere'], { minLength: 1 }),
      from: fc.integer({ min: 0, max: 6 }).map((m) => BASE + m * MINUTE + (m % 2) * 17),
      to: fc.integer({ min: 0, max: 7 }).map((m) => BASE + m * MINUTE),
    },
    { requiredKeys: [] },
  );

  it('should answer exactly the records below the position it reports', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(partitionPlan, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.integer(),
        query,
        async (plans, withBatch, seed, filter) => {
          const records: PageView[] = generateRecords(
            seededRandom(seed),
            plans.map((plan) => plan.records),
          );
          const { store, close } = await openTestStore();
          try {
            const horizon: number[] = [];
            const expectedSlices: { partition: number; start: number; end: number; closed: boolean }[] = [];
            const position: number[] = [];
            for (const [partition, plan] of plans.entries()) {
              const points = [...new Set([0, ...plan.edges.filter((edge) => edge <= plan.records)])].sort((a, b) => a - b);
              const h = withBatch ? points[plan.horizonAt % points.length]! : 0;
              horizon.push(h);
              for (let i = 0; i + 1 < points.length; i++) {
                const [start, end] = [points[i]!, points[i + 1]!];
                const closed = !(plan.lastOpen && i + 2 === points.length);
                await putSlice(store, records, { partition, start, end, closed });
                if (start >= h) expectedSlices.push({ partition, start, end, closed });
              }
              position.push(points.at(-1)!);
            }
            if (withBatch) await publishBatch(store, records, 1, horizon);

            const answer = await new MergedViewReader(store, catalog, { now: () => NOW }).read(VIEW, filter);
            const counted = below(records, position);
            expect(answer.windows).toEqual(naiveAnswer(counted, filter));
            // Every partition of the horizon has a position; without one, the partitions up to the last with a slice.
            const partitions = withBatch ? plans.length : Math.max(0, ...expectedSlices.map((slice) => slice.partition + 1));
            expect(answer.provenance.position).toEqual(position.slice(0, partitions));
            expect(answer.provenance.slices).toEqual(expectedSlices);
            expect(answer.provenance.batch?.horizon ?? null).toEqual(withBatch ? horizon : null);
            expect(answer.provenance.newestRecordAt).toBe(newestOf(counted));
            expect(answer.provenance.attempts).toBe(1);
          } finally {
            await close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
