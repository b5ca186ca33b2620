/**
 * Reprocessing when the log no longer holds its early offsets (retention deleted them): the records below
 * the log's start come back from the lake archive the batch layer's Archiver wrote, the rest from the
 * log, and the new generation must be exactly the new logic over all history, as DuckDB computes it
 * from every record ever appended. The embedded log keeps everything, so a wrapper plays retention:
 * its start offsets are raised, and a read below them fails as Kafka's would, with OffsetOutOfRangeError.
 */
import { afterEach, beforeAll, afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Archiver, BatchLayer, DuckDbEngine } from '@lambda/batch-layer';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  InProcessScheduler,
  LocalLake,
  OffsetOutOfRangeError,
  UnknownJobError,
  archiveJobName,
  generationPointerName,
  listArchiveFiles,
  recomputeJobName,
  silentLogger,
  type EventLog,
  type ReadOptions,
  type ReadResult,
  type ViewDefinition,
} from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { Reprocessor, SpeedLayer } from '@lambda/speed-layer';
import { makeTempDir } from '@lambda/test-kit';
import { TruthTable, differences, readAllRecords } from './helpers/truth.js';

const TOPIC = 'archived_clicks';
const VIEW = 'archived_by_url';
const BASE_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const URLS = ['/', '/a', '/b', '/c', '/d'];

const catalog = Catalog.compile({
  sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', latency: 'number' } }],
  views: [{ name: VIEW, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { n: 'count()', total: 'sum(latency)', worst: 'max(latency)' } }],
});
const NEW_LOGIC: ViewDefinition = { ...catalog.views.get(VIEW)!.definition, filter: 'latency > 100', aggregates: { n: 'count()', total: 'sum(latency)' } };

/** An event log whose retention removed every offset of TOPIC below `starts`: reads there fail, as Kafka's do. */
class RetainedEventLog implements EventLog {
  /** Reads that asked for an offset the log no longer holds. */
  readsBelowStart = 0;
  constructor(
    private readonly inner: EventLog,
    private readonly starts: readonly number[],
  ) {}
  createTopic: EventLog['createTopic'] = (topic, options) => this.inner.createTopic(topic, options);
  listTopics: EventLog['listTopics'] = () => this.inner.listTopics();
  describeTopic: EventLog['describeTopic'] = (topic) => this.inner.describeTopic(topic);
  append: EventLog['append'] = (topic, messages) => this.inner.append(topic, messages);
  async read(topic: string, partition: number, offset: number, options?: ReadOptions): Promise<ReadResult> {
    const start = topic === TOPIC ? (this.starts[partition] ?? 0) : 0;
    if (offset < start) {
      this.readsBelowStart++;
      throw new OffsetOutOfRangeError(`Offset ${offset} of ${topic}/${partition} is below the log's start ${start}`, { topic, partition, offset });
    }
    return this.inner.read(topic, partition, offset, options);
  }
  async startOffsets(topic: string): Promise<number[]> {
    const starts = await this.inner.startOffsets(topic);
    return topic === TOPIC ? starts.map((start, partition) => Math.max(start, this.starts[partition] ?? 0)) : starts;
  }
  endOffsets: EventLog['endOffsets'] = (topic) => this.inner.endOffsets(topic);
  commitOffsets: EventLog['commitOffsets'] = (group, topic, offsets) => this.inner.commitOffsets(group, topic, offsets);
  committedOffsets: EventLog['committedOffsets'] = (group, topic) => this.inner.committedOffsets(group, topic);
  close: EventLog['close'] = () => this.inner.close();
}

/** A seeded stream of clicks over both partitions, with an invalid record now and then. */
function clicks(count: number, seed: number): { partition: number; value: string }[] {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, (_, i) => ({
    partition: i % 2,
    value:
      next() < 0.05
        ? '{"url": 7'
        : JSON.stringify({ url: URLS[Math.floor(next() * URLS.length)], latency: next() < 0.1 ? null : Math.floor(next() * 300), ts: BASE_TIME + Math.floor(next() * 6) * 60_000 }),
  }));
}


describe('when a view is reprocessed after retention deleted the log’s early offsets', () => {
  let engine: DuckDbEngine;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  let store: EmbeddedViewStore;
  let lake: LocalLake;
  let archivedTo: number[];

  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(() => engine.close());

  beforeEach(async () => {
    dir = await makeTempDir('kappa-archive');
    log = await EmbeddedEventLog.open({ directory: `${dir.path}/log`, fsync: 'never' });
    store = await EmbeddedViewStore.open({ directory: `${dir.path}/views`, fsync: 'never' });
    lake = await LocalLake.open({ directory: `${dir.path}/lake`, fsync: false });
    await log.createTopic(TOPIC, { partitions: 2 });
    await log.append(TOPIC, clicks(900, 5));
    const archiver = new Archiver({ eventLog: log, lake, engine, workDirectory: `${dir.path}/work`, logger: silentLogger(), maxRecordsPerFile: 200 });
    archivedTo = (await archiver.archiveTopic(catalog.sources.get(TOPIC)!)).archivedTo;
    // Records that arrived after the archive ran: only the log has them.
    await log.append(TOPIC, clicks(300, 6));
  });

  afterEach(async () => {
    await log.close();
    await store.close();
    await dir.remove();
  });

  it('should fold the archive below the log’s start and replay the rest: exactly the new logic over all history', async () => {
    // Partition 0 lost its first 300 offsets, partition 1 none: one seeded from the archive, one replayed whole.
    const retained = new RetainedEventLog(log, [300, 0]);
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    const reprocessor = new Reprocessor({ eventLog: retained, viewStore: store, catalog, lake, speedLayer: speed, maxRecordsPerPartition: 100, scratchDirectory: `${dir.path}/scratch` });
    const phases: string[] = [];

    const result = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC, onProgress: (progress) => phases.push(progress.phase) });

    expect(retained.readsBelowStart).toBe(0);
    expect(result.recordsFromArchive).toBe(archivedTo[0]);
    expect(archivedTo[0]).toBeGreaterThan(300);
    expect(result.position).toEqual(await log.endOffsets(TOPIC));
    expect(phases[0]).toBe('archive');
    expect(phases.at(-1)).toBe('done');
    // Answers, through the generation pointer, equal DuckDB's over every record ever appended, with the new SQL.
    const answer = await new MergedViewReader(store, catalog, { cacheAnswers: false }).read(VIEW);
    expect(answer.provenance.position).toEqual(result.position);
    const newView = Catalog.compile({ sources: [catalog.sources.get(TOPIC)!.definition], views: [NEW_LOGIC] }).views.get(VIEW)!;
    const truth = new TruthTable(engine, newView.source);
    await truth.create();
    await truth.add(await readAllRecords(log, TOPIC));
    const expected = await truth.windows(newView, answer.provenance.position);
    expect(expected.size).toBeGreaterThan(0);
    expect(differences(answer.windows, expected, new Set(URLS))).toEqual([]);
    expect(answer.windows).toHaveLength(expected.size);
    // The old generation is gone but for its tombstone.
    expect(await store.listSlices(VIEW)).toEqual([]);
    expect((await store.readManifest(VIEW))?.stats).toMatchObject({ retired: true, successor: result.storage });
    await speed.stop();
  });

  it('should refuse, naming the lost offsets, when the archive does not reach the log’s start, and keep serving the old generation', async () => {
    const retained = new RetainedEventLog(log, [archivedTo[0]! + 50, 0]);
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog });
    while ((await speed.runOnce()).backlog);
    const reader = new MergedViewReader(store, catalog, { cacheAnswers: false });
    const before = await reader.read(VIEW);
    const reprocessor = new Reprocessor({ eventLog: retained, viewStore: store, catalog, lake, speedLayer: speed, scratchDirectory: `${dir.path}/scratch` });

    const failure = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(OffsetOutOfRangeError);
    expect((failure as Error).message).toContain(`starts at ${archivedTo[0]! + 50} but the archive reaches only ${archivedTo[0]}`);
    expect(await store.readManifest(generationPointerName(VIEW))).toBeUndefined();
    expect((await reader.read(VIEW)).windows).toEqual(before.windows);
    await speed.stop();
  });

  it('should say that Kappa reprocessing needs the log’s full retention or an archive, when it has no lake', async () => {
    const retained = new RetainedEventLog(log, [300, 0]);
    const reprocessor = new Reprocessor({ eventLog: retained, viewStore: store, catalog });

    const failure = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(OffsetOutOfRangeError);
    expect((failure as Error).message).toMatch(/starts at \[300, 0\].*full retention/);
  });
});

describe('when the view is a Kappa view, so only the batch layer’s archive job archives its topic', () => {
  let engine: DuckDbEngine;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let log: EmbeddedEventLog;
  let store: EmbeddedViewStore;
  let lake: LocalLake;
  let scheduler: InProcessScheduler;
  let batch: BatchLayer;

  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(() => engine.close());

  beforeEach(async () => {
    dir = await makeTempDir('kappa-archive-job');
    log = await EmbeddedEventLog.open({ directory: `${dir.path}/log`, fsync: 'never' });
    store = await EmbeddedViewStore.open({ directory: `${dir.path}/views`, fsync: 'never' });
    lake = await LocalLake.open({ directory: `${dir.path}/lake`, fsync: false });
    await log.createTopic(TOPIC, { partitions: 2 });
    await log.append(TOPIC, clicks(900, 7));
    scheduler = new InProcessScheduler();
    batch = await BatchLayer.create({ eventLog: log, viewStore: store, lake, scheduler, catalog, workDirectory: `${dir.path}/batch`, duckdb: { threads: 1 }, repeat: null, kappaViews: [VIEW] });
  });

  afterEach(async () => {
    await batch.close();
    await scheduler.close();
    await log.close();
    await store.close();
    await dir.remove();
  });

  it('should archive the log with its archive job, so a reprocess after retention dropped the archived offsets equals the new logic over all history', async () => {
    await expect(scheduler.status(recomputeJobName(VIEW))).rejects.toBeInstanceOf(UnknownJobError);
    const run = await scheduler.waitForRun((await scheduler.trigger(archiveJobName(TOPIC))).id, 30_000);
    const ends = await log.endOffsets(TOPIC);
    expect(run).toMatchObject({ state: 'completed', result: { archivedTo: ends } });
    for (const [partition, end] of ends.entries()) {
      const files = await listArchiveFiles(lake, TOPIC, partition);
      expect([files[0]?.from, files.at(-1)?.to]).toEqual([0, end]);
    }
    // Records after the archive run: only the log has them. Then retention drops every archived offset.
    await log.append(TOPIC, clicks(300, 8));
    const retained = new RetainedEventLog(log, ends);
    const speed = await SpeedLayer.create({ eventLog: log, viewStore: store, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    const reprocessor = new Reprocessor({ eventLog: retained, viewStore: store, catalog, lake, speedLayer: speed, maxRecordsPerPartition: 100, scratchDirectory: `${dir.path}/scratch` });

    const result = await reprocessor.reprocess(VIEW, { definition: NEW_LOGIC });

    expect(retained.readsBelowStart).toBe(0);
    expect(result.recordsFromArchive).toBe(ends[0]! + ends[1]!);
    expect(result.position).toEqual(await log.endOffsets(TOPIC));
    const answer = await new MergedViewReader(store, catalog, { cacheAnswers: false }).read(VIEW);
    const newView = Catalog.compile({ sources: [catalog.sources.get(TOPIC)!.definition], views: [NEW_LOGIC] }).views.get(VIEW)!;
    const truth = new TruthTable(engine, newView.source);
    await truth.create();
    await truth.add(await readAllRecords(log, TOPIC));
    const expected = await truth.windows(newView, answer.provenance.position);
    expect(expected.size).toBeGreaterThan(0);
    expect(differences(answer.windows, expected, new Set(URLS))).toEqual([]);
    expect(answer.windows).toHaveLength(expected.size);
    await speed.stop();
  });
});
