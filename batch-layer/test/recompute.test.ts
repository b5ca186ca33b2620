/**
 * Recomputing batch views with the real adapters: slices written straight into the view store give the
 * edges a horizon may take (as the speed layer would write them), records go through the embedded log,
 * the archive into a local lake, the query through DuckDB. Every expectation is computed here, from the
 * records the test appended: a naive count and sum per url per minute below the expected horizon.
 */
import { join } from 'node:path';
import {
  Catalog,
  InProcessScheduler,
  recomputeJobName,
  type BatchManifest,
  type JsonValue,
  type Slice,
  type ViewDefinition,
  type ViewRow,
  archiveKey,
  listArchiveFiles,
} from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Archiver, BatchLayer, Recomputer, chooseHorizon, type RecomputeProgress } from '../src/index.js';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers.js';

const VIEW = 'pageviews_by_url';
const TOTALS = 'pageview_totals';

const VIEWS: ViewDefinition[] = [
  { name: VIEW, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { views: 'count()', total: 'sum(latency)' } },
  { name: TOTALS, source: TOPIC, key: [], aggregates: { views: 'count()' } },
];

/** What the test appended, as it knows it independently of any decoder. */
interface Sent {
  partition: number;
  offset: number;
  timestamp: number;
  valid: boolean;
  eventTime: number;
  url: string | null;
  latency: number | null;
}

let platform: Platform;
let catalog: Catalog;
let sent: Sent[];
let counter: number;

beforeEach(async () => {
  platform = await openPlatform('recompute');
  await platform.eventLog.createTopic(TOPIC, { partitions: 2 });
  catalog = Catalog.compile({ sources: [PAGEVIEWS], views: VIEWS });
  sent = [];
  counter = 0;
});

afterEach(async () => {
  await platform.close();
});

/**
 * Appends `count` records to a partition: event times spread over ten minutes out of order (some minutes
 * behind their log time), urls with nulls, integral latencies with nulls, and every ninth record invalid.
 */
async function appendPageviews(partition: number, count: number): Promise<void> {
  const batch: { sent: Omit<Sent, 'offset'>; text: string }[] = [];
  for (let i = 0; i < count; i++) {
    const n = counter++;
    const timestamp = BASE_TIME + 10 * 60_000 + n * 1000;
    const eventTime = BASE_TIME + ((n * 7919) % 600) * 1000;
    const url = [null, '/', '/home', '/ü', '/home'][(n * 7 + Math.floor(n / 3)) % 5]!;
    const latency = n % 4 === 0 ? null : (n * 37) % 1000;
    const valid = n % 9 !== 8;
    const value: Record<string, JsonValue> = { ts: eventTime, latency, user: `u${n % 3}` };
    if (url !== null) value.url = url;
    batch.push({ sent: { partition, timestamp, valid, eventTime, url, latency }, text: valid ? JSON.stringify(value) : `{"ts": ${eventTime}, "url": ` });
  }
  const offsets = await platform.eventLog.append(
    TOPIC,
    batch.map(({ sent: s, text }) => message(partition, text, s.timestamp)),
  );
  batch.forEach(({ sent: s }, i) => sent.push({ ...s, offset: offsets[i]!.offset }));
}

/** The naive batch view: per (url, minute) the count of records and the sum of latencies below `horizon`. */
function naiveRows(horizon: readonly number[]): ViewRow[] {
  const rows = new Map<string, { key: string; windowStart: number; views: number; total: number }>();
  for (const record of sent) {
    if (!record.valid || record.url === null || record.offset >= (horizon[record.partition] ?? 0)) continue;
    const minute = record.eventTime - (record.eventTime % 60_000);
    const id = `${record.url} ${minute}`;
    const row = rows.get(id) ?? { key: record.url, windowStart: minute, views: 0, total: 0 };
    row.views += 1;
    row.total += record.latency ?? 0;
    rows.set(id, row);
  }
  return [...rows.values()].map(({ key, windowStart, views, total }) => ({ key, windowStart, state: { views, total } }));
}

/** What the view counts below the horizon: valid records with a url (the key). */
function naiveStats(horizon: readonly number[]): { records: number; newestRecordAt: number | null } {
  const below = sent.filter((record) => record.valid && record.url !== null && record.offset < (horizon[record.partition] ?? 0));
  return { records: below.length, newestRecordAt: below.length === 0 ? null : Math.max(...below.map((record) => record.timestamp)) };
}

const sortRows = (rows: readonly ViewRow[]) =>
  [...rows].sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

async function batchRows(version: number, view = VIEW): Promise<ViewRow[]> {
  return sortRows(await platform.viewStore.readBatchRows(view, version));
}

/** Writes slices as the speed layer would: [partition, start, end, closed]. */
async function putSlices(slices: [partition: number, start: number, end: number, closed: boolean][], view = VIEW): Promise<void> {
  for (const [partition, start, end, closed] of slices) {
    await platform.viewStore.putSlice({ view, partition, start, end, closed, newestRecordAt: null }, []);
  }
}

const sliceEdges = (slices: Slice[]) => slices.map(({ partition, start, end, closed }) => [partition, start, end, closed]);

function recomputer(): Recomputer {
  const archiver = new Archiver({
    eventLog: platform.eventLog,
    lake: platform.lake,
    engine: platform.engine,
    workDirectory: join(platform.directory, 'work'),
    logger: platform.logger,
  });
  return new Recomputer({ viewStore: platform.viewStore, lake: platform.lake, engine: platform.engine, archiver, catalog, logger: platform.logger });
}

/** The state every scenario starts from: 30 records on partition 0, 12 on partition 1, slices ending before. */
async function startingPoint(): Promise<void> {
  await appendPageviews(0, 30);
  await appendPageviews(1, 12);
  await putSlices([
    [0, 0, 10, true],
    [0, 10, 22, true],
    [0, 22, 30, false],
    [1, 0, 5, true],
    [1, 5, 12, false],
  ]);
}

describe('the recomputer', () => {
  describe('when slices have edges and the log holds records beyond them', () => {
    beforeEach(startingPoint);

    it('should publish version 1 with the furthest slice edge per partition as its horizon', async () => {
      const manifest = await recomputer().run(VIEW);

      // Partition 0: the end of closed [10, 22) and the start of the open slice; partition 1: the end of closed [0, 5).
      expect(manifest).toMatchObject({ view: VIEW, version: 1, horizon: [22, 5] });
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(manifest);
    });

    it('should archive up to those edges only, not to the end of the log', async () => {
      await recomputer().run(VIEW);

      expect((await listArchiveFiles(platform.lake, TOPIC, 0)).at(-1)?.to).toBe(22);
      expect((await listArchiveFiles(platform.lake, TOPIC, 1)).at(-1)?.to).toBe(5);
    });

    it('should hold the rows of a naive count and sum of the records below the horizon', async () => {
      const manifest = (await recomputer().run(VIEW))!;

      const expected = sortRows(naiveRows([22, 5]));
      expect(expected.length).toBeGreaterThan(5);
      expect(await batchRows(manifest.version)).toEqual(expected);
    });

    it('should record its rows, and the log time of the newest record the view counts', async () => {
      const manifest = (await recomputer().run(VIEW))!;

      const { records, newestRecordAt } = naiveStats([22, 5]);
      expect(records).toBeGreaterThan(10);
      expect(manifest.stats).toMatchObject({ rows: naiveRows([22, 5]).length });
      expect(manifest.newestRecordAt).toBe(newestRecordAt);
    });
  });

  describe('when a slice edge lies beyond what the log holds', () => {
    it('should stop the horizon at the furthest edge the archive has reached', async () => {
      await appendPageviews(0, 20);
      await putSlices([
        [0, 0, 8, true],
        [0, 8, 50, true],
        [0, 50, 50, false],
      ]);

      const manifest = (await recomputer().run(VIEW))!;

      expect(manifest.horizon).toEqual([8, 0]);
      expect(await batchRows(manifest.version)).toEqual(sortRows(naiveRows([8, 0])));
    });
  });

  describe('when a version is prepared but not yet published', () => {
    beforeEach(startingPoint);

    it('should leave readers on no version before the first publish', async () => {
      const prepared = (await recomputer().prepare(VIEW))!;

      expect(prepared).toMatchObject({ view: VIEW, version: 1, horizon: [22, 5] });
      expect(await platform.viewStore.readManifest(VIEW)).toBeUndefined();
    });

    it('should keep serving the previous version until the publish switches to the new one', async () => {
      const recompute = recomputer();
      const first = (await recompute.run(VIEW))!;
      const firstRows = await batchRows(first.version);
      await putSlices([
        [0, 22, 30, true],
        [0, 30, 30, false],
      ]);

      const prepared = (await recompute.prepare(VIEW))!;

      expect(prepared).toMatchObject({ version: 2, horizon: [30, 5] });
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(first);
      expect(await batchRows(first.version)).toEqual(firstRows);

      const second = await recompute.publish(prepared);

      expect(second).toMatchObject({ version: 2, horizon: [30, 5] });
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(second);
      expect(await batchRows(2)).toEqual(sortRows(naiveRows([30, 5])));
    });
  });

  describe('when records arrived but the speed layer has cut no slice yet', () => {
    it('should publish no empty version at horizon zero: the run is up to date until an edge exists', async () => {
      await appendPageviews(0, 8);
      await appendPageviews(1, 4);
      await putSlices([
        [0, 0, 8, false],
        [1, 0, 4, false],
      ]);
      const recompute = recomputer();
      expect(await recompute.run(VIEW)).toBeUndefined();
      expect(await platform.viewStore.readManifest(VIEW)).toBeUndefined();
      expect(await platform.viewStore.listBatchVersions(VIEW)).toEqual([]);

      // Once the speed layer cuts, the first version counts what lies below the edge.
      await putSlices([[0, 0, 8, true]]);
      expect(await recompute.run(VIEW)).toMatchObject({ version: 1, horizon: [8, 0] });
    });
  });

  describe('when no new slice edge was reached since the last run', () => {
    beforeEach(startingPoint);

    it('should publish nothing, even with new records in the log', async () => {
      const recompute = recomputer();
      const first = (await recompute.run(VIEW))!;

      expect(await recompute.run(VIEW)).toBeUndefined();
      await appendPageviews(0, 5);
      await appendPageviews(1, 5);
      expect(await recompute.prepare(VIEW)).toBeUndefined();

      expect(await platform.viewStore.readManifest(VIEW)).toEqual(first);
      expect(await platform.viewStore.listBatchVersions(VIEW)).toEqual([1]);
    });

    it('should never move the horizon back, even where no slice is left at it', async () => {
      const recompute = recomputer();
      await recompute.run(VIEW);
      await recompute.cleanUp(VIEW);
      // Only the open slices are left; then partition 1 has none at all, and partition 0 gets a new edge.
      expect(sliceEdges(await platform.viewStore.listSlices(VIEW))).toEqual([
        [0, 22, 30, false],
        [1, 5, 12, false],
      ]);
      await platform.viewStore.deleteSlices([{ view: VIEW, partition: 1, start: 5 }]);
      await putSlices([
        [0, 22, 30, true],
        [0, 30, 30, false],
      ]);

      const manifest = (await recompute.run(VIEW))!;

      expect(manifest.horizon).toEqual([30, 5]);
      expect(await batchRows(manifest.version)).toEqual(sortRows(naiveRows([30, 5])));
    });
  });

  describe('when the horizon is chosen', () => {
    const slice = (partition: number, start: number, end: number, closed: boolean): Slice => ({ view: VIEW, partition, start, end, closed, newestRecordAt: null });

    it('should take slice starts and closed slices ends the archive has reached, never an open slice end', () => {
      const slices = [slice(0, 0, 10, true), slice(0, 10, 15, false), slice(1, 0, 4, true), slice(1, 4, 9, true), slice(1, 9, 9, false)];
      expect(chooseHorizon(slices, [15, 9], [0, 0])).toEqual([10, 9]);
      expect(chooseHorizon(slices, [9, 8], [0, 0])).toEqual([0, 4]);
    });

    it('should never go behind the current horizon', () => {
      expect(chooseHorizon([slice(0, 0, 10, true)], [10, 3], [20, 3])).toEqual([20, 3]);
    });
  });

  describe('when progress is reported', () => {
    beforeEach(startingPoint);

    it('should go through archive, query and write with rising percentages, ending near 100', async () => {
      const progress: RecomputeProgress[] = [];

      await recomputer().run(VIEW, (report) => progress.push(report));

      const stages = progress.map((report) => report.stage).filter((stage, i, all) => stage !== all[i - 1]);
      expect(stages).toEqual(['archive', 'query', 'write', 'publish']);
      const percents = progress.map((report) => report.percent);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(percents[0]).toBe(0);
      expect(percents.at(-1)).toBeGreaterThanOrEqual(95);
      expect(percents.at(-1)).toBeLessThanOrEqual(100);
      expect(progress.every((report) => typeof report.message === 'string' && report.message.length > 0)).toBe(true);
    });
  });

  describe('when cleaning up after publishes', () => {
    beforeEach(startingPoint);

    it('should do nothing for a view without a published version', async () => {
      expect(await recomputer().cleanUp(VIEW)).toEqual({ slices: 0, versions: 0 });
      expect(await platform.viewStore.listSlices(VIEW)).toHaveLength(5);
    });

    it('should delete exactly the closed slices below the horizon and the versions older than the one before serving', async () => {
      const recompute = recomputer();
      await recompute.run(VIEW); // version 1, horizon [22, 5]
      await putSlices([
        [0, 22, 30, true],
        [0, 30, 30, false],
      ]);
      await recompute.run(VIEW); // version 2, horizon [30, 5]
      await appendPageviews(1, 4);
      await putSlices([
        [1, 5, 12, true],
        [1, 12, 16, true],
        [1, 16, 16, false],
      ]);
      // A closed slice whose end the archive cannot reach: partition 0 of the log ends at 30.
      await putSlices([
        [0, 30, 40, true],
        [0, 40, 40, false],
      ]);
      const third = (await recompute.run(VIEW))!;
      expect(third).toMatchObject({ version: 3, horizon: [30, 16] });
      expect(await platform.viewStore.listBatchVersions(VIEW)).toEqual([1, 2, 3]);

      const removed = await recompute.cleanUp(VIEW);

      expect(removed).toEqual({ slices: 6, versions: 1 });
      expect(sliceEdges(await platform.viewStore.listSlices(VIEW))).toEqual([
        [0, 30, 40, true],
        [0, 40, 40, false],
        [1, 16, 16, false],
      ]);
      expect(await platform.viewStore.listBatchVersions(VIEW)).toEqual([2, 3]);
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(third);
      expect(await batchRows(3)).toEqual(sortRows(naiveRows([30, 16])));
    });
  });

  describe('when a crashed run left an unpublished version behind', () => {
    beforeEach(startingPoint);

    it('should publish a fresh version without any of its stale rows', async () => {
      const recompute = recomputer();
      const first = (await recompute.run(VIEW))!;
      const stale: ViewRow[] = [
        { key: '/stale', windowStart: BASE_TIME, state: { views: 999, total: 1 } },
        { key: '/home', windowStart: BASE_TIME, state: { views: 999, total: 1 } },
      ];
      await platform.viewStore.putBatchRows(VIEW, 2, stale);
      await putSlices([
        [0, 22, 30, true],
        [0, 30, 30, false],
      ]);

      const manifest = (await recompute.run(VIEW))!;

      expect(manifest.version).toBeGreaterThan(first.version);
      expect(manifest.horizon).toEqual([30, 5]);
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(manifest);
      const rows = await batchRows(manifest.version);
      expect(rows).toEqual(sortRows(naiveRows([30, 5])));
      expect(rows.some((row) => row.key === '/stale' || (row.state as { views: number }).views === 999)).toBe(false);
    });
  });

  describe('when two views read the same topic', () => {
    beforeEach(startingPoint);

    it('should share the archive files rather than write them twice', async () => {
      await putSlices(
        [
          [0, 0, 22, true],
          [0, 22, 22, false],
          [1, 0, 5, true],
          [1, 5, 5, false],
        ],
        TOTALS,
      );
      const recompute = recomputer();
      await recompute.run(VIEW);
      const files = [...(await listArchiveFiles(platform.lake, TOPIC, 0)), ...(await listArchiveFiles(platform.lake, TOPIC, 1))];

      const totals = (await recompute.run(TOTALS))!;

      expect([...(await listArchiveFiles(platform.lake, TOPIC, 0)), ...(await listArchiveFiles(platform.lake, TOPIC, 1))]).toEqual(files);
      expect(totals.horizon).toEqual([22, 5]);
      // TOTALS has no key: it counts every valid record below the horizon, url or none.
      const validBelow = sent.filter((record) => record.valid && record.offset < [22, 5][record.partition]!).length;
      expect(await batchRows(totals.version, TOTALS)).toEqual([{ key: '*', windowStart: 0, state: { views: validBelow } }]);
    });
  });
});

describe('the batch layer service', () => {
  let scheduler: InProcessScheduler;
  let layer: BatchLayer | undefined;

  beforeEach(() => {
    scheduler = new InProcessScheduler();
    layer = undefined;
  });

  afterEach(async () => {
    await layer?.close();
    await scheduler.close();
  });

  const create = async (options: { repeat?: null; cleanupGraceMs?: number } = {}) =>
    (layer = await BatchLayer.create({
      eventLog: platform.eventLog,
      viewStore: platform.viewStore,
      lake: platform.lake,
      scheduler,
      catalog,
      workDirectory: join(platform.directory, 'batch'),
      logger: platform.logger,
      duckdb: { threads: 1 },
      ...options,
    }));

  describe('when it starts', () => {
    it('should register a recompute:<view> job per view, repeated every 60 s by default', async () => {
      await create();

      for (const view of [VIEW, TOTALS]) {
        expect(recomputeJobName(view)).toBe(`recompute:${view}`);
        const status = await scheduler.status(`recompute:${view}`);
        expect(status.repeat).toEqual({ everyMs: 60_000 });
        expect(status.running).toBeNull();
      }
    });

    it('should register on-demand jobs only when repeat is null', async () => {
      await create({ repeat: null });

      expect((await scheduler.status(`recompute:${VIEW}`)).repeat).toBeNull();
    });
  });

  describe('when a recompute is triggered through the scheduler', () => {
    beforeEach(startingPoint);

    it('should complete with a result holding the published version', async () => {
      await create({ repeat: null });

      const run = await scheduler.trigger(`recompute:${VIEW}`);
      const finished = await scheduler.waitForRun(run.id, 20_000);

      expect(finished.state).toBe('completed');
      expect(finished.progress.percent).toBe(100);
      expect(finished.result).toMatchObject({ version: 1, horizon: [22, 5], rows: naiveRows([22, 5]).length });
      expect(await platform.viewStore.readManifest(VIEW)).toMatchObject({ version: 1, horizon: [22, 5] });
      expect(await batchRows(1)).toEqual(sortRows(naiveRows([22, 5])));
    });

    it('should complete as up to date when there is nothing new to count', async () => {
      await create({ repeat: null });
      await scheduler.waitForRun((await layer!.trigger(VIEW)).id, 20_000);

      const again = await scheduler.waitForRun((await layer!.trigger(VIEW)).id, 20_000);

      expect(again).toMatchObject({ state: 'completed', result: { upToDate: true } });
    });

    it('should clean up covered slices a grace period after publishing', async () => {
      await create({ repeat: null, cleanupGraceMs: 10 });

      await layer!.recompute(VIEW);

      await vi.waitFor(async () => expect(sliceEdges(await platform.viewStore.listSlices(VIEW))).toEqual([
        [0, 22, 30, false],
        [1, 5, 12, false],
      ]));
    });
  });

  describe('when a recompute fails', () => {
    beforeEach(startingPoint);

    it('should leave the previous version serving and mark the run failed', async () => {
      await create({ repeat: null });
      const first = (await scheduler.waitForRun((await layer!.trigger(VIEW)).id, 20_000)).result as { version: number };
      const manifest = (await platform.viewStore.readManifest(VIEW)) as BatchManifest;
      const rows = await batchRows(first.version);
      // The lake's first archive file is no Parquet any more; a new slice edge makes the next run query it.
      await platform.lake.put(archiveKey(TOPIC, 0, 0, 22), 'not a parquet file');
      await putSlices([
        [0, 22, 30, true],
        [0, 30, 30, false],
      ]);

      const failed = await scheduler.waitForRun((await layer!.trigger(VIEW)).id, 20_000);

      expect(failed.state).toBe('failed');
      expect(failed.error).toMatch(/parquet/i);
      expect(failed.result).toBeNull();
      expect(await platform.viewStore.readManifest(VIEW)).toEqual(manifest);
      expect(await batchRows(first.version)).toEqual(rows);
    });
  });
});
