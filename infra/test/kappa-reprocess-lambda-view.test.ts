/**
 * Reprocessing a Lambda view reflects the logic change as Lambda does: the batch layer runs the new
 * logic's SQL over the lake archive (DuckDB) into the new generation's first version, and the speed
 * layer's machinery replays only the log above that version's horizon. The answers must then be exactly
 * the new logic over all history, as DuckDB computes it from every record, before and after the batch
 * layer's next recompute (of the new generation).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchLayer, DuckDbEngine } from '@lambda/batch-layer';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  InProcessScheduler,
  LocalLake,
  RETIRED_VERSION,
  readViewGeneration,
  silentLogger,
  type EventLog,
  type ReadOptions,
  type ReadResult,
  type ViewDefinition,
  type ViewStore,
} from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { Reprocessor, SpeedLayer, type ReprocessProgress } from '@lambda/speed-layer';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

const TOPIC = 'lambda_clicks';
const VIEW = 'lambda_by_url';
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const URLS = ['/', '/a', '/b', '/c'];

const catalog = Catalog.compile({
  sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', latency: 'number' } }],
  views: [{ name: VIEW, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { n: 'count()', total: 'sum(latency)' } }],
});
const NEW_LOGIC: ViewDefinition = { ...catalog.views.get(VIEW)!.definition, filter: 'latency >= 150', aggregates: { n: 'count()', worst: 'max(latency)' } };
const newView = Catalog.compile({ sources: [catalog.sources.get(TOPIC)!.definition], views: [NEW_LOGIC] }).views.get(VIEW)!;

/** A log that remembers the lowest offset of TOPIC read per partition. */
class WatchedEventLog implements EventLog {
  readonly lowestRead: number[] = [];
  constructor(private readonly inner: EventLog) {}
  createTopic: EventLog['createTopic'] = (topic, options) => this.inner.createTopic(topic, options);
  listTopics: EventLog['listTopics'] = () => this.inner.listTopics();
  describeTopic: EventLog['describeTopic'] = (topic) => this.inner.describeTopic(topic);
  append: EventLog['append'] = (topic, messages) => this.inner.append(topic, messages);
  read(topic: string, partition: number, offset: number, options?: ReadOptions): Promise<ReadResult> {
    if (topic === TOPIC) this.lowestRead[partition] = Math.min(this.lowestRead[partition] ?? Number.POSITIVE_INFINITY, offset);
    return this.inner.read(topic, partition, offset, options);
  }
  startOffsets: EventLog['startOffsets'] = (topic) => this.inner.startOffsets(topic);
  endOffsets: EventLog['endOffsets'] = (topic) => this.inner.endOffsets(topic);
  commitOffsets: EventLog['commitOffsets'] = (group, topic, offsets) => this.inner.commitOffsets(group, topic, offsets);
  committedOffsets: EventLog['committedOffsets'] = (group, topic) => this.inner.committedOffsets(group, topic);
  close: EventLog['close'] = () => this.inner.close();
}

/** A store whose first batch-row write for `view` waits until the test opens the gate. */
function gatedStore(store: ViewStore, view: string): { store: ViewStore; reached: Promise<void>; open(): void } {
  let open!: () => void;
  let reach!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  let waited = false;
  const gated = new Proxy(store, {
    get(target, property) {
      if (property === 'putBatchRows') {
        return async (...args: Parameters<ViewStore['putBatchRows']>) => {
          if (args[0] === view && !waited) {
            waited = true;
            reach();
            await gate;
          }
          return target.putBatchRows(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: gated, reached, open };
}

function clicks(count: number, seed: number): { partition: number; value: string }[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, (_, i) => ({
    partition: i % 2,
    value:
      next() < 0.05
        ? 'not json'
        : JSON.stringify({ url: URLS[Math.floor(next() * URLS.length)], latency: next() < 0.1 ? null : Math.floor(next() * 300), ts: BASE_TIME + Math.floor(next() * 5) * 60_000 }),
  }));
}


describe('when a Lambda view is reprocessed', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  let store: EmbeddedViewStore;
  let lake: LocalLake;
  let scheduler: InProcessScheduler;
  let batch: BatchLayer;
  let speed: SpeedLayer;
  let engine: DuckDbEngine;

  beforeEach(async () => {
    dir = await makeTempDir('lambda-reprocess');
    log = await EmbeddedEventLog.open({ directory: join(dir.path, 'log'), fsync: 'never' });
    store = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
    lake = await LocalLake.open({ directory: join(dir.path, 'lake'), fsync: false });
    scheduler = new InProcessScheduler();
    engine = await DuckDbEngine.create({ threads: 1 });
    await log.createTopic(TOPIC, { partitions: 2 });
    batch = await BatchLayer.create({ eventLog: log, viewStore: store, lake, scheduler, catalog, workDirectory: join(dir.path, 'batch'), logger: silentLogger(), duckdb: { threads: 1 }, repeat: null });
    speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 1 } });
  });

  afterEach(async () => {
    await speed.stop();
    await batch.close();
    await scheduler.close();
    engine.close();
    await log.close();
    await store.close();
    await dir.remove();
  });

  const expectTruth = async (reader: MergedViewReader) => {
    const answer = await reader.read(VIEW);
    const truth = new TruthTable(engine, newView.source);
    await truth.create();
    await truth.add(await readAllRecords(log, TOPIC));
    const expected = await truth.windows(newView, answer.provenance.position);
    expect(expected.size).toBeGreaterThan(0);
    expect(differences(answer.windows, expected, new Set(URLS))).toEqual([]);
    expect(answer.windows).toHaveLength(expected.size);
    return answer;
  };

  it('should recompute the new logic over the lake, replay only above its horizon, and answer exactly the new logic', async () => {
    await log.append(TOPIC, clicks(600, 1));
    while ((await speed.runOnce()).backlog);
    await speed.runOnce(); // cuts the open slices: edges for the old generation's recompute
    expect(await batch.recompute(VIEW)).toMatchObject({ version: 1 });
    // An odd total: the batch half of the progress (half the archived records) is still a whole count.
    await log.append(TOPIC, clicks(201, 2));
    while ((await speed.runOnce()).backlog);
    const endBefore = await log.endOffsets(TOPIC);

    const watched = new WatchedEventLog(log);
    const progress: ReprocessProgress[] = [];
    const reprocessor = new Reprocessor({
      eventLog: watched,
      viewStore: store,
      catalog,
      lake,
      speedLayer: speed,
      seed: (generation, onProgress) => batch.recomputeGeneration(generation, onProgress),
    });
    // Records that arrive while it runs are replayed from the log.
    const result = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC, onProgress: (p) => progress.push(p) });

    // The batch part covered the whole log as it was; the log was read from that horizon only.
    const seeded = (await store.readManifest(result.storage))!;
    expect(result.recordsFromArchive).toBe(endBefore[0]! + endBefore[1]!);
    expect(watched.lowestRead.every((offset, partition) => offset >= endBefore[partition]!)).toBe(true);
    expect(seeded).toMatchObject({ version: 1, horizon: endBefore, stats: { reprocess: true } });
    expect(progress[0]?.phase).toBe('archive');
    expect(progress.at(-1)).toMatchObject({ phase: 'done', percent: 100 });
    // GET /views/:name/reprocess documents both counts as integers.
    expect(progress.filter((p) => !Number.isInteger(p.recordsReplayed) || !Number.isInteger(p.recordsTotal))).toEqual([]);
    const reader = new MergedViewReader(store, catalog, { cacheAnswers: false });
    const answer = await expectTruth(reader);
    expect(answer.provenance.batch?.version).toBe(1);

    // The layers go on with the new generation: new records, then the batch layer's next recompute of it.
    await log.append(TOPIC, clicks(150, 3));
    while ((await speed.runOnce()).backlog);
    await speed.runOnce();
    await expectTruth(reader);
    const recomputed = await batch.recompute(VIEW);
    expect(recomputed).toMatchObject({ view: result.storage, version: 2 });
    expect((await readViewGeneration(store, catalog, VIEW)).storage).toBe(result.storage);
    const after = await expectTruth(reader);
    expect(after.provenance.batch?.version).toBe(2);
    expect(after.provenance.position).toEqual(await log.endOffsets(TOPIC));
  });

  describe('when a recompute of the old generation is in flight across the switch', () => {
    it('should refuse its version, delete its rows, and recompute the new generation instead', async () => {
      await log.append(TOPIC, clicks(400, 4));
      while ((await speed.runOnce()).backlog);
      await speed.runOnce();
      expect(await batch.recompute(VIEW)).toMatchObject({ version: 1 });
      await log.append(TOPIC, clicks(200, 5));
      while ((await speed.runOnce()).backlog);
      await speed.runOnce(); // a new slice edge: the next recompute of the old generation has work

      // A second batch process's recompute of generation 1 pauses while writing its rows.
      const gated = gatedStore(store, VIEW);
      const racingScheduler = new InProcessScheduler();
      const racing = await BatchLayer.create({ eventLog: log, viewStore: gated.store, lake, scheduler: racingScheduler, catalog, workDirectory: join(dir.path, 'racing'), logger: silentLogger(), duckdb: { threads: 1 }, repeat: null });
      try {
        const inFlight = racing.recompute(VIEW);
        await gated.reached;

        const reprocessor = new Reprocessor({ eventLog: log, viewStore: store, catalog, lake, speedLayer: speed, seed: (generation, onProgress) => batch.recomputeGeneration(generation, onProgress) });
        const result = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC });
        await log.append(TOPIC, clicks(100, 6));
        while ((await speed.runOnce()).backlog);
        await speed.runOnce();

        gated.open();
        const recomputed = await inFlight;
        // Its publish into generation 1 was refused by the tombstone; the run went on with generation 2.
        expect(recomputed).toMatchObject({ view: result.storage, version: 2 });
        expect(await store.readManifest(VIEW)).toMatchObject({ version: RETIRED_VERSION, stats: { retired: true, successor: result.storage } });
        expect((await store.listBatchVersions(VIEW)).filter((version) => version !== RETIRED_VERSION)).toEqual([]);
        const reader = new MergedViewReader(store, catalog, { cacheAnswers: false });
        const answer = await expectTruth(reader);
        expect(answer.provenance.batch?.version).toBe(2);
      } finally {
        await racing.close();
        await racingScheduler.close();
      }
    });
  });
});
