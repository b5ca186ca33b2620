/**
 * The recompute fanned out over lake partitions as BullMQ jobs, against the real Redis (a key prefix of
 * its own per test, everything under it removed afterwards): partition workers, each with a DuckDB of its
 * own, run one partition's share each; the recompute merges their partial rows with the views' monoids.
 * Over the same log and archive, the version it publishes must hold exactly the rows of the single-query
 * recompute, for every aggregate and window kind; the totals are also counted here, record by record.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { BullmqScheduler, BullmqTaskFanOut, BullmqTaskWorker } from '@lambda/adapters';
import {
  Catalog,
  ConnectionError,
  EmbeddedViewStore,
  Quarantine,
  type JsonValue,
  type Lake,
  type ViewDefinition,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Archiver,
  BatchLayer,
  DuckDbEngine,
  PARTIALS_PREFIX,
  PARTITION_QUEUE,
  PartitionQuery,
  Recomputer,
  describePartitionTask,
  type PartitionFanOut,
  type PartitionResult,
  type PartitionTask,
  type RecomputeProgress,
} from '../src/index.js';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers.js';
import { describeWhenAvailable, keysUnder, REDIS_URL, redisSkipReason, removeKeysUnder } from '@lambda/test-kit';

const PARTITIONS = 4;

const BY_URL = 'every_aggregate_by_url';
const BY_USER = 'by_user_hopping';
const TOTALS = 'totals';
const VIEWS: ViewDefinition[] = [
  {
    name: BY_URL,
    source: TOPIC,
    key: 'url',
    window: { type: 'tumbling', size: '1m' },
    aggregates: {
      views: 'count()',
      timed: 'count(latency)',
      total: 'sum(latency)',
      mean: 'avg(latency)',
      fastest: 'min(latency)',
      slowest: 'max(latency)',
      visitors: 'approx_distinct(user)',
      referrers: 'top_k(referrer, 3)',
    },
  },
  {
    name: BY_USER,
    source: TOPIC,
    filter: 'NOT coalesce(bot, false)',
    key: 'user',
    window: { type: 'hopping', size: '5m', slide: '1m' },
    aggregates: { views: 'count()', total: 'sum(latency)', pages: 'top_k(url, 2)', urls: 'approx_distinct(url)', slowest: 'max(latency)' },
  },
  {
    name: TOTALS,
    source: TOPIC,
    key: [],
    aggregates: {
      views: 'count()',
      total: 'sum(latency)',
      mean: 'avg(latency)',
      fastest: 'min(latency)',
      slowest: 'max(latency)',
      users: 'approx_distinct(user)',
      pages: 'top_k(url, 5)',
    },
  },
];

const skipReason = await redisSkipReason(REDIS_URL);

/**
 * The platform's lake as one worker sees it: partial writes are recorded (which worker wrote which
 * partition), may be slowed down (so two workers surely share the jobs), or may fail for one partition.
 */
class WorkerLake implements Lake {
  readonly partials: string[] = [];
  slowPartialsMs = 0;
  failPartition: number | undefined;
  readonly localPath?: (key: string) => string;

  constructor(private readonly lake: Lake) {
    if (lake.localPath) this.localPath = (key) => lake.localPath!(key);
  }

  async put(key: string, body: Parameters<Lake['put']>[1]) {
    if (key.startsWith(`${PARTIALS_PREFIX}/`)) {
      this.partials.push(key);
      if (this.slowPartialsMs > 0) await new Promise((resolve) => setTimeout(resolve, this.slowPartialsMs));
      if (this.failPartition !== undefined && key.endsWith(`/p${this.failPartition}.ndjson`)) {
        throw new ConnectionError(`the lake refused partition ${this.failPartition}`);
      }
    }
    return this.lake.put(key, body);
  }
  get = (key: string) => this.lake.get(key);
  head = (key: string) => this.lake.head(key);
  list = (prefix: string) => this.lake.list(prefix);
  delete = (key: string) => this.lake.delete(key);
  close = async () => undefined;
}

const partitionOf = (key: string) => Number(/\/p(\d+)\.ndjson$/.exec(key)![1]);

const sortRows = (rows: readonly ViewRow[]): ViewRow[] =>
  [...rows].sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

describeWhenAvailable('a recompute fanned out over lake partitions', skipReason, () => {
  let platform: Platform;
  let catalog: Catalog;
  let prefix: string;
  let fanOutViews: EmbeddedViewStore;
  /** Per partition, the records appended: valid or not, with their url (or null) and latency (or null). */
  let sent: { partition: number; offset: number; valid: boolean; latency: number | null; hasUrl: boolean }[];
  const closers: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    platform = await openPlatform('fan-out');
    fanOutViews = await EmbeddedViewStore.open({ directory: join(platform.directory, 'fan-out-views'), fsync: 'never' });
    await platform.eventLog.createTopic(TOPIC, { partitions: PARTITIONS });
    catalog = Catalog.compile({ sources: [PAGEVIEWS], views: VIEWS });
    prefix = `lambda-test-${randomUUID()}`;
    sent = [];
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await fanOutViews.close();
    await platform.close();
    await removeKeysUnder(prefix);
    expect(await keysUnder(prefix)).toEqual([]);
  });

  /**
   * Appends `count` records to each partition: event times over ten minutes, out of order and up to eight
   * minutes behind their log time, nulls in every field, integral latencies, every eleventh one invalid.
   */
  async function append(count: number): Promise<void> {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const batch = Array.from({ length: count }, (_, i) => {
        const n = sent.length + i * PARTITIONS + partition;
        const timestamp = BASE_TIME + 10 * 60_000 + n * 997;
        const eventTime = timestamp - 10 * 60_000 + ((n * 7919) % 480) * 1000 - 240_000;
        const latency = n % 5 === 0 ? null : (n * 37) % 900;
        const value: Record<string, JsonValue> = { ts: eventTime, latency, bot: n % 7 === 0 };
        if (n % 6 !== 0) value.url = ['/', '/home', '/ü', '/a b', '/x'][(n * 3) % 5]!;
        if (n % 4 !== 0) value.user = `u${n % 9}`;
        if (n % 3 !== 0) value.referrer = ['google', 'direct', 'news', 'mail'][n % 4]!;
        const valid = n % 11 !== 10;
        return { valid, latency, hasUrl: n % 6 !== 0, text: valid ? JSON.stringify(value) : '{"ts": ', timestamp };
      });
      const offsets = await platform.eventLog.append(
        TOPIC,
        batch.map((record) => message(partition, record.text, record.timestamp)),
      );
      batch.forEach((record, i) => sent.push({ partition, offset: offsets[i]!.offset, valid: record.valid, latency: record.latency, hasUrl: record.hasUrl }));
    }
  }

  /** A closed slice [from, to) and an open one at `to`, per partition and view, in every given view store. */
  async function slicesTo(edges: number[], from: number[], stores: ViewStore[]): Promise<void> {
    for (const store of stores) {
      for (const view of catalog.views.keys()) {
        for (const [partition, end] of edges.entries()) {
          await store.putSlice({ view, partition, start: from[partition]!, end, closed: true, newestRecordAt: null }, []);
          await store.putSlice({ view, partition, start: end, end, closed: false, newestRecordAt: null }, []);
        }
      }
    }
  }

  function recomputer(viewStore: ViewStore, work: string, fanOut?: PartitionFanOut): Recomputer {
    const archiver = new Archiver({ eventLog: platform.eventLog, lake: platform.lake, engine: platform.engine, workDirectory: join(platform.directory, work), logger: platform.logger });
    return new Recomputer({ viewStore, lake: platform.lake, engine: platform.engine, archiver, catalog, logger: platform.logger, fanOut });
  }

  /** The partition queue under this test's prefix, as infra wires it. */
  const queue = () => ({ redisUrl: REDIS_URL, prefix, queue: PARTITION_QUEUE, describe: describePartitionTask });

  async function openFanOut(): Promise<PartitionFanOut> {
    const fanOut = await BullmqTaskFanOut.open<PartitionTask, PartitionResult>({ ...queue(), attempts: 2, backoffMs: 20, timeoutMs: 20_000 });
    closers.push(() => fanOut.close());
    return fanOut;
  }

  /** A partition worker with a DuckDB of its own, over its own view of the lake. */
  async function openWorker(name: string): Promise<{ worker: BullmqTaskWorker<PartitionTask, PartitionResult>; lake: WorkerLake }> {
    const engine = await DuckDbEngine.create({ threads: 1 });
    closers.push(() => engine.close());
    const lake = new WorkerLake(platform.lake);
    const query = new PartitionQuery({ engine, lake, catalog, worker: name, logger: platform.logger });
    const worker = await BullmqTaskWorker.open<PartitionTask, PartitionResult>({ ...queue(), name }, (task) => query.run(task));
    closers.push(() => worker.close());
    return { worker, lake };
  }

  async function partialsLeft(): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of platform.lake.list(`${PARTIALS_PREFIX}/`)) keys.push(info.key);
    return keys;
  }

  describe('when the same archive is recomputed with one query and with partition jobs', () => {
    it('should publish exactly the rows of the single-query recompute, for every view', async () => {
      await append(40);
      await slicesTo([30, 25, 34, 28], [0, 0, 0, 0], [platform.viewStore, fanOutViews]);
      await openWorker('a');
      const single = recomputer(platform.viewStore, 'single-work');
      const fannedOut = recomputer(fanOutViews, 'fan-out-work', await openFanOut());

      for (const view of catalog.views.keys()) {
        const one = (await single.run(view))!;
        const many = (await fannedOut.run(view))!;

        expect(many).toMatchObject({ view, version: one.version, horizon: one.horizon, newestRecordAt: one.newestRecordAt, stats: { rows: one.stats!.rows } });
        const expected = sortRows(await platform.viewStore.readBatchRows(view, one.version));
        expect(expected.length, view).toBeGreaterThan(0);
        expect(sortRows(await fanOutViews.readBatchRows(view, many.version)), view).toEqual(expected);
      }
      // Counted here: every valid record below the horizon, in the one totals row merged from four partitions.
      const below = sent.filter((record) => record.valid && record.offset < [30, 25, 34, 28][record.partition]!);
      const [totals] = await fanOutViews.readBatchRows(TOTALS, 1);
      expect(totals!.state).toMatchObject({
        views: below.length,
        total: below.reduce((sum, record) => sum + (record.latency ?? 0), 0),
      });
    });
  });

  describe('when the speed layer quarantined records for one view', () => {
    it('should leave them out of that view, in one query and in partition jobs alike, and count them in the others', async () => {
      await append(40);
      await slicesTo([30, 25, 34, 28], [0, 0, 0, 0], [platform.viewStore, fanOutViews]);
      // Valid records below the horizon, in two partitions, and one above it (it must not matter).
      const chosen = [sent.find((r) => r.valid && r.partition === 1 && r.offset === 3)!, sent.find((r) => r.valid && r.partition === 2 && r.offset === 20)!];
      const above = sent.find((r) => r.valid && r.partition === 0 && r.offset === 35)!;
      await Quarantine.append(
        platform.eventLog,
        TOPIC,
        PARTITIONS,
        [...chosen, above].map(({ partition, offset }) => ({ view: TOTALS, partition, offset, reason: 'refused by a test', at: 0 })),
      );
      await openWorker('a');
      const single = recomputer(platform.viewStore, 'single-work');
      const fannedOut = recomputer(fanOutViews, 'fan-out-work', await openFanOut());
      for (const view of catalog.views.keys()) {
        const one = (await single.run(view))!;
        const many = (await fannedOut.run(view))!;
        expect(sortRows(await fanOutViews.readBatchRows(view, many.version)), view).toEqual(sortRows(await platform.viewStore.readBatchRows(view, one.version)));
      }

      const horizon = [30, 25, 34, 28];
      const below = sent.filter((record) => record.valid && record.offset < horizon[record.partition]!);
      const counted = below.filter((record) => !chosen.includes(record));
      const [totals] = await fanOutViews.readBatchRows(TOTALS, 1);
      expect(totals!.state).toMatchObject({ views: counted.length, total: counted.reduce((sum, record) => sum + (record.latency ?? 0), 0) });
      // The other views still count every record.
      const byUrl = await fanOutViews.readBatchRows(BY_URL, 1);
      expect(byUrl.reduce((sum, row) => sum + (row.state as { views: number }).views, 0)).toBe(below.filter((record) => record.hasUrl).length);
    });
  });

  describe('when two workers with DuckDB engines of their own take the jobs', () => {
    it('should share the partitions between them, running every partition exactly once', async () => {
      await append(20);
      await slicesTo([15, 12, 18, 10], [0, 0, 0, 0], [fanOutViews]);
      const a = await openWorker('worker-a');
      const b = await openWorker('worker-b');
      // Each task takes a while, so the second worker takes the next job while the first is busy.
      a.lake.slowPartialsMs = b.lake.slowPartialsMs = 150;

      const prepared = (await recomputer(fanOutViews, 'work', await openFanOut()).prepare(BY_URL))!;

      const ranBy = new Map<number, string[]>();
      for (const [name, lake] of [['worker-a', a.lake], ['worker-b', b.lake]] as const) {
        for (const key of lake.partials) ranBy.set(partitionOf(key), [...(ranBy.get(partitionOf(key)) ?? []), name]);
      }
      expect([...ranBy.keys()].sort()).toEqual([0, 1, 2, 3]);
      for (const workers of ranBy.values()) expect(workers).toHaveLength(1);
      expect(new Set([...ranBy.values()].flat())).toEqual(new Set(['worker-a', 'worker-b']));
      // The results say the same.
      expect(prepared.partitions!.map(({ partition, worker }) => [partition, worker])).toEqual([0, 1, 2, 3].map((p) => [p, ranBy.get(p)![0]]));
      expect(await partialsLeft()).toEqual([]);
    });
  });

  describe('when a partition job keeps failing', () => {
    it('should fail the run with its error after its attempts, and keep the previous version serving', async () => {
      await append(20);
      await slicesTo([10, 10, 10, 10], [0, 0, 0, 0], [fanOutViews]);
      const { lake } = await openWorker('a');
      const recompute = recomputer(fanOutViews, 'work', await openFanOut());
      const first = (await recompute.run(TOTALS))!;
      const firstRows = await fanOutViews.readBatchRows(TOTALS, first.version);
      await slicesTo([18, 16, 20, 14], [10, 10, 10, 10], [fanOutViews]);
      lake.partials.length = 0;
      lake.failPartition = 2;

      await expect(recompute.run(TOTALS)).rejects.toThrow(/Partition 2 of view "totals" failed: the lake refused partition 2/);

      // Both attempts the fan-out allows were made.
      expect(lake.partials.filter((key) => partitionOf(key) === 2)).toHaveLength(2);
      expect(await fanOutViews.readManifest(TOTALS)).toEqual(first);
      expect(await fanOutViews.readBatchRows(TOTALS, first.version)).toEqual(firstRows);
      expect(await partialsLeft()).toEqual([]);
    });
  });

  describe('when the batch layer fans out through its scheduler', () => {
    it('should report the query stage as partitions complete, reach 100, and leave no partial behind', async () => {
      await append(20);
      await slicesTo([15, 12, 18, 10], [0, 0, 0, 0], [fanOutViews]);
      const scheduler = await BullmqScheduler.open({ redisUrl: REDIS_URL, prefix, pollIntervalMs: 20 });
      closers.push(() => scheduler.close());
      const layer = await BatchLayer.create({
        eventLog: platform.eventLog,
        viewStore: fanOutViews,
        lake: platform.lake,
        scheduler,
        catalog,
        workDirectory: join(platform.directory, 'layer-work'),
        repeat: null,
        duckdb: { threads: 1 },
        // This process's own partition worker runs every job.
        fanOut: {
          tasks: await openFanOut(),
          openWorker: (run, name) => BullmqTaskWorker.open<PartitionTask, PartitionResult>({ ...queue(), name, concurrency: 2 }, run),
        },
      });
      closers.push(() => layer.close());

      const progress: RecomputeProgress[] = [];
      const manifest = (await layer.recompute(BY_USER, (report) => progress.push(report)))!;
      const run = await scheduler.waitForRun((await layer.trigger(TOTALS)).id, 20_000);

      expect(manifest).toMatchObject({ version: 1, horizon: [15, 12, 18, 10] });
      const query = progress.filter((report) => report.stage === 'query').map((report) => report.percent);
      // The start, then one step per partition, ending where the write stage begins.
      expect(query).toHaveLength(1 + PARTITIONS);
      expect(query).toEqual([...new Set(query)].sort((x, y) => x - y));
      expect(query.at(-1)).toBe(75);
      expect(run).toMatchObject({ state: 'completed', progress: { percent: 100 } });
      expect(await fanOutViews.readManifest(TOTALS)).toMatchObject({ version: 1, horizon: [15, 12, 18, 10] });
      expect(await partialsLeft()).toEqual([]);
    });
  });
});
