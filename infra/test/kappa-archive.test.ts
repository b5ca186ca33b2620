/**
 * A topic read only by Kappa views has no recompute to archive it, yet a Kappa reprocess needs the lake
 * for the offsets the log's retention dropped: the batch layer registers an `archive:<topic>` job for it,
 * which copies the log to its end into Parquet files, and leaves topics with a Lambda view to their
 * recompute. `POST /batch/run` and `GET /batch/jobs` stay about views and ignore the archive job.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Catalog,
  InProcessScheduler,
  Metrics,
  UnknownJobError,
  archiveJobName,
  recomputeJobName,
  silentLogger,
  type SourceDefinition,
  type ViewDefinition,
  listArchiveFiles,
} from '@lambda/core';
import { createServer, listen } from '@lambda/serving-layer';
import { BatchLayer, queryRows } from '@lambda/batch-layer';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers/batch-fixtures.js';

const ORDERS = 'orders';
const ORDER_SOURCE: SourceDefinition = { topic: ORDERS, eventTimeField: 'ts', fields: { amount: 'number' } };
const KAPPA_VIEWS: ViewDefinition[] = [
  { name: 'kappa_totals', source: TOPIC, key: [], aggregates: { views: 'count()' } },
  { name: 'kappa_by_url', source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { views: 'count()' } },
];
/** A topic with one Kappa and one Lambda view: its recompute archives it. */
const MIXED_VIEWS: ViewDefinition[] = [
  { name: 'kappa_orders', source: ORDERS, key: [], aggregates: { n: 'count()' } },
  { name: 'lambda_orders', source: ORDERS, key: [], window: { type: 'tumbling', size: '1m' }, aggregates: { n: 'count()' } },
];
const catalog = Catalog.compile({ sources: [PAGEVIEWS, ORDER_SOURCE], views: [...KAPPA_VIEWS, ...MIXED_VIEWS] });
const COUNTS = [23, 17];

describe('when every view of a topic runs in Kappa mode', () => {
  let platform: Platform;
  let scheduler: InProcessScheduler;
  let layer: BatchLayer;

  beforeEach(async () => {
    platform = await openPlatform('kappa-archive');
    await platform.eventLog.createTopic(TOPIC, { partitions: 2 });
    await platform.eventLog.createTopic(ORDERS, { partitions: 1 });
    for (const [partition, count] of COUNTS.entries()) {
      await platform.eventLog.append(
        TOPIC,
        Array.from({ length: count }, (_, i) => message(partition, { url: `/p${i % 4}`, user: 'u', ts: BASE_TIME + i * 1000 }, BASE_TIME + i * 1000)),
      );
    }
    await platform.eventLog.append(ORDERS, [message(0, { amount: 5, ts: BASE_TIME }, BASE_TIME)]);
    scheduler = new InProcessScheduler();
    layer = await BatchLayer.create({
      eventLog: platform.eventLog,
      viewStore: platform.viewStore,
      lake: platform.lake,
      scheduler,
      catalog,
      workDirectory: join(platform.directory, 'batch'),
      logger: platform.logger,
      duckdb: { threads: 1 },
      repeat: { everyMs: 3_600_000 },
      cleanupGraceMs: 0,
      kappaViews: [...KAPPA_VIEWS, MIXED_VIEWS[0]!].map((view) => view.name),
    });
  });

  afterEach(async () => {
    await layer.close();
    await scheduler.close();
    await platform.close();
  });

  it('should register an archive job for it on the recompute repeat, and no recompute job', async () => {
    expect((await scheduler.status(archiveJobName(TOPIC))).repeat).toEqual({ everyMs: 3_600_000 });
    for (const view of KAPPA_VIEWS) await expect(scheduler.status(recomputeJobName(view.name))).rejects.toBeInstanceOf(UnknownJobError);
    // The mixed topic is archived by its Lambda view's recompute.
    await expect(scheduler.status(archiveJobName(ORDERS))).rejects.toBeInstanceOf(UnknownJobError);
    expect((await scheduler.status(recomputeJobName('lambda_orders'))).repeat).toEqual({ everyMs: 3_600_000 });
    expect(layer.archivedTopics()).toEqual([TOPIC]);
  });

  it('should archive the topic to the log’s end into Parquet files holding every record once, and write nothing on a second run', async () => {
    const ends = await platform.eventLog.endOffsets(TOPIC);
    expect(ends).toEqual(COUNTS);

    const run = await scheduler.waitForRun((await scheduler.trigger(archiveJobName(TOPIC))).id, 20_000);

    expect(run).toMatchObject({ state: 'completed', progress: { percent: 100 }, result: { archivedTo: ends, filesWritten: 2, records: COUNTS[0]! + COUNTS[1]! } });
    for (const [partition, end] of ends.entries()) {
      const files = await listArchiveFiles(platform.lake, TOPIC, partition);
      expect(files[0]?.from).toBe(0);
      expect(files.at(-1)?.to).toBe(end);
      const paths = files.map((file) => `'${platform.lake.localPath!(file.key).replaceAll("'", "''")}'`);
      const rows = await platform.engine.withConnection((connection) =>
        queryRows(connection, `SELECT _partition, _offset FROM read_parquet([${paths.join(', ')}]) ORDER BY _offset`),
      );
      expect(rows.map((row) => [Number(row._partition), Number(row._offset)])).toEqual(Array.from({ length: end }, (_, offset) => [partition, offset]));
    }

    await platform.eventLog.append(TOPIC, [message(1, { url: '/late', user: 'u', ts: BASE_TIME }, BASE_TIME)]);
    const again = await scheduler.waitForRun((await scheduler.trigger(archiveJobName(TOPIC))).id, 20_000);
    expect(again).toMatchObject({ state: 'completed', result: { archivedTo: [COUNTS[0], COUNTS[1]! + 1], filesWritten: 1, records: 1 } });
    const third = await layer.archive(TOPIC);
    expect(third).toMatchObject({ filesWritten: 0, records: 0 });
  });

  it('should keep POST /batch/run and GET /batch/jobs about views: the archive job is neither triggered nor listed', async () => {
    const locations = { eventLog: 'embedded', viewStore: 'embedded', lake: 'local', scheduler: 'in-process' };
    const ports = { eventLog: platform.eventLog, viewStore: platform.viewStore, lake: platform.lake, scheduler, locations, close: async () => undefined };
    const server = await listen(createServer({ ports, catalog, metrics: new Metrics(), logger: silentLogger() }), { host: '127.0.0.1', port: 0 });
    try {
      await scheduler.waitForRun((await scheduler.trigger(archiveJobName(TOPIC))).id, 20_000);
      const all = await fetch(`${server.url}/batch/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(all.status).toBe(202);
      const { runs: started } = (await all.json()) as { runs: { view: string; id: string }[] };
      expect(started.map((run) => run.view)).toEqual(['lambda_orders']);
      for (const run of started) await scheduler.waitForRun(run.id, 20_000);

      const listed = await fetch(`${server.url}/batch/jobs`);
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as { jobs: { view: string; name: string }[]; runs: { name: string; view: string | null }[] };
      expect(body.jobs.map((job) => job.name)).toEqual([recomputeJobName('lambda_orders')]);
      expect(body.runs.map((run) => run.view)).toEqual(['lambda_orders']);
      // The archive run exists and is readable by id, as a run of no view.
      const archiveRun = (await scheduler.listRuns()).find((run) => run.name === archiveJobName(TOPIC))!;
      const one = await fetch(`${server.url}/batch/jobs/${archiveRun.id}`);
      expect(one.status).toBe(200);
      expect(await one.json()).toMatchObject({ name: archiveJobName(TOPIC), view: null, state: 'completed', version: null, horizon: null });
    } finally {
      await server.close();
    }
  });
});
