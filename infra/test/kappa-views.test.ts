/**
 * A Kappa view (`kappa.views`) has no batch layer: the speed layer keeps it from offset 0 and the Kappa
 * compactor folds its slices into versions. A real BatchLayer and scheduler must leave it alone: no job,
 * no trigger, no recompute, nothing written, and `POST /batch/run` of every view leaves it out.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Catalog,
  ConflictError,
  InProcessScheduler,
  Metrics,
  UnknownJobError,
  recomputeJobName,
  silentLogger,
  type ViewDefinition,
} from '@lambda/core';
import { createServer, listen } from '@lambda/serving-layer';
import { BatchLayer } from '@lambda/batch-layer';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers/batch-fixtures.js';

const LAMBDA_VIEW = 'lambda_by_url';
const KAPPA_VIEW = 'kappa_totals';
const VIEWS: ViewDefinition[] = [
  { name: LAMBDA_VIEW, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { views: 'count()' } },
  { name: KAPPA_VIEW, source: TOPIC, key: [], aggregates: { views: 'count()' } },
];
const catalog = Catalog.compile({ sources: [PAGEVIEWS], views: VIEWS });

describe('when a view runs in Kappa mode', () => {
  let platform: Platform;
  let scheduler: InProcessScheduler;
  let layer: BatchLayer;
  /** The Kappa view's slices as the speed layer left them. */
  let kappaSlices: Awaited<ReturnType<Platform['viewStore']['listSlices']>>;

  beforeEach(async () => {
    platform = await openPlatform('kappa-views');
    await platform.eventLog.createTopic(TOPIC, { partitions: 2 });
    const counts = [14, 9];
    for (const [partition, count] of counts.entries()) {
      await platform.eventLog.append(
        TOPIC,
        Array.from({ length: count }, (_, i) => message(partition, { url: `/p${i % 3}`, user: 'u', ts: BASE_TIME + i * 1000 }, BASE_TIME + i * 1000)),
      );
    }
    // Both views have closed slices up to the log's end, as the speed layer would leave them.
    for (const view of [LAMBDA_VIEW, KAPPA_VIEW]) {
      for (const [partition, count] of counts.entries()) {
        await platform.viewStore.putSlice({ view, partition, start: 0, end: count, closed: true, newestRecordAt: BASE_TIME }, []);
      }
    }
    kappaSlices = await platform.viewStore.listSlices(KAPPA_VIEW);
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
      repeat: null,
      cleanupGraceMs: 0,
      kappaViews: [KAPPA_VIEW],
    });
  });

  afterEach(async () => {
    await layer.close();
    await scheduler.close();
    await platform.close();
  });

  it('should register no recompute job for it, and refuse to trigger or run one', async () => {
    expect((await scheduler.status(recomputeJobName(LAMBDA_VIEW))).repeat).toBeNull();
    await expect(scheduler.status(recomputeJobName(KAPPA_VIEW))).rejects.toBeInstanceOf(UnknownJobError);
    await expect(layer.trigger(KAPPA_VIEW)).rejects.toBeInstanceOf(UnknownJobError);
    await expect(layer.recompute(KAPPA_VIEW)).rejects.toBeInstanceOf(ConflictError);
    await expect(layer.recompute(KAPPA_VIEW)).rejects.toThrow(/Kappa mode/);
  });

  it('should recompute the Lambda views and write nothing of the Kappa view', async () => {
    const run = await scheduler.waitForRun((await layer.trigger(LAMBDA_VIEW)).id, 20_000);
    expect(run).toMatchObject({ state: 'completed', result: { version: 1, horizon: [14, 9] } });
    // Past the clean-up's grace: the Lambda view's covered slices go, the Kappa view's stay.
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(await platform.viewStore.readManifest(LAMBDA_VIEW)).toMatchObject({ version: 1 });
    expect(await platform.viewStore.readManifest(KAPPA_VIEW)).toBeUndefined();
    expect(await platform.viewStore.listBatchVersions(KAPPA_VIEW)).toEqual([]);
    expect(await platform.viewStore.listSlices(KAPPA_VIEW)).toEqual(kappaSlices);
  });

  it('should leave it out of POST /batch/run for every view, and refuse it by name', async () => {
    const locations = { eventLog: 'embedded', viewStore: 'embedded', lake: 'local', scheduler: 'in-process' };
    const ports = { eventLog: platform.eventLog, viewStore: platform.viewStore, lake: platform.lake, scheduler, locations, close: async () => undefined };
    const server = await listen(createServer({ ports, catalog, metrics: new Metrics(), logger: silentLogger() }), { host: '127.0.0.1', port: 0 });
    try {
      const post = (body: unknown) => fetch(`${server.url}/batch/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const all = await post({});
      expect(all.status).toBe(202);
      const { runs } = (await all.json()) as { runs: { view: string; id: string }[] };
      expect(runs.map((run) => run.view)).toEqual([LAMBDA_VIEW]);
      for (const started of runs) await scheduler.waitForRun(started.id, 20_000);

      const named = await post({ view: KAPPA_VIEW });
      expect(named.status).toBe(404);
      expect(((await named.json()) as { error: { code: string } }).error.code).toBe('UNKNOWN_JOB');
      const jobs = (await (await fetch(`${server.url}/batch/jobs`)).json()) as { jobs: { view: string }[] };
      expect(jobs.jobs.map((job) => job.view)).toEqual([LAMBDA_VIEW]);
      expect(await platform.viewStore.readManifest(KAPPA_VIEW)).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
