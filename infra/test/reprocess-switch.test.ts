import { isDeepStrictEqual } from 'node:util';
import { generationPointerName, readViewGeneration, type JsonObject } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reprocessor, SpeedLayer, type ReprocessProgress } from '@lambda/speed-layer';
import {
  appendViews,
  expectedUrlRows,
  generateViews,
  makeUrlOnlyCatalog,
  openPlatform,
  URL_VIEW,
  type Platform,
  type Rows,
} from './helpers/speed-fixtures.js';

/** A merged answer as rows by `${key}@${windowStart}`, like the oracle's. */
function rowsOf(windows: readonly { key: string; windowStart: number; values: JsonObject }[]): Rows {
  return Object.fromEntries(windows.map((window) => [`${window.key}@${window.windowStart}`, window.values]));
}

describe('when a view is reprocessed with new logic', () => {
  let platform: Platform;
  beforeEach(async () => {
    platform = await openPlatform('reprocess');
  });
  afterEach(() => platform.cleanUp());

  it('should serve exactly the new logic over all history, never a half-built generation, and delete the old one', async () => {
    const catalog = makeUrlOnlyCatalog();
    const events = generateViews(1500, 11);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    const reader = new MergedViewReader(platform.store, catalog, { cacheAnswers: false });
    const oldTruth = expectedUrlRows(events);
    expect(rowsOf((await reader.read(URL_VIEW)).windows)).toEqual(oldTruth);

    const definition = { ...catalog.views.get(URL_VIEW)!.definition, filter: 'latency > 100' };
    const newTruth = expectedUrlRows(events.filter((event) => event.latency !== null && event.latency > 100));
    expect(newTruth).not.toEqual(oldTruth);

    // Small replay micro-batches make the rebuild take many steps, during which readers keep reading.
    const reprocessor = new Reprocessor({ eventLog: platform.log, viewStore: platform.store, catalog, speedLayer: speed, maxRecordsPerPartition: 50, slicePolicy: { microBatches: 2 } });
    const progress: ReprocessProgress[] = [];
    let done = false;
    const seen = { old: 0, new: 0, other: [] as Rows[] };
    const readers = (async () => {
      while (!done) {
        const rows = rowsOf((await reader.read(URL_VIEW)).windows);
        if (isDeepStrictEqual(rows, oldTruth)) seen.old++;
        else if (isDeepStrictEqual(rows, newTruth)) seen.new++;
        else seen.other.push(rows);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const result = await reprocessor.reprocess(URL_VIEW, { definition, onProgress: (p) => progress.push(p) }).finally(() => (done = true));
    await readers;

    expect(result.generation).toBe(2);
    expect(result.storage).toBe(`${URL_VIEW}@g2`);
    expect(result.recordsReplayed).toBe(events.length);
    expect(seen.other).toEqual([]);
    expect(seen.old).toBeGreaterThan(0);
    expect(rowsOf((await reader.read(URL_VIEW)).windows)).toEqual(newTruth);
    expect((await readViewGeneration(platform.store, catalog, URL_VIEW)).storage).toBe(result.storage);
    expect((await platform.store.readManifest(generationPointerName(URL_VIEW)))?.version).toBe(2);
    // Progress climbs to 100 % of the records, then the switch.
    const replay = progress.filter((p) => p.phase === 'replay').map((p) => p.percent);
    expect(replay.length).toBeGreaterThan(3);
    expect(replay).toEqual([...replay].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatchObject({ phase: 'done', percent: 100 });
    // The old generation is gone.
    expect(await platform.store.listSlices(URL_VIEW)).toEqual([]);

    // The live speed layer continues with the new logic.
    const more = generateViews(200, 12);
    await appendViews(platform.log, more);
    while ((await speed.runOnce()).backlog);
    expect(rowsOf((await reader.read(URL_VIEW)).windows)).toEqual(
      expectedUrlRows([...events, ...more].filter((event) => event.latency !== null && event.latency > 100)),
    );
    await speed.stop();

    // A restarted speed layer picks the serving generation up from the store.
    const restarted = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog });
    expect(restarted.positions(URL_VIEW)).toEqual(speed.positions(URL_VIEW));
    await restarted.stop();
  }, 30_000);

  describe('when producers keep appending during the replay', () => {
    it('should report a percent that never goes back and ends at 100', async () => {
      const catalog = makeUrlOnlyCatalog();
      await appendViews(platform.log, generateViews(1000, 21));
      const reprocessor = new Reprocessor({ eventLog: platform.log, viewStore: platform.store, catalog, maxRecordsPerPartition: 50 });
      const definition = { ...catalog.views.get(URL_VIEW)!.definition, filter: 'latency > 100' };
      // A burst after the first replay step, and another after the replay caught up: each outgrows what
      // was folded, so a percent of the log's end now would go back.
      const appending: Promise<unknown>[] = [];
      const progress: ReprocessProgress[] = [];
      const onProgress = (report: ReprocessProgress) => {
        progress.push(report);
        if (report.phase === 'replay' && appending.length === 0) appending.push(appendViews(platform.log, generateViews(3000, 22)));
        if (report.phase === 'switch') appending.push(appendViews(platform.log, generateViews(500, 23)));
      };
      await reprocessor.reprocess(URL_VIEW, { definition, onProgress });
      await Promise.all(appending);

      expect(appending.length).toBe(2);
      expect(progress.some((report) => report.recordsTotal > report.recordsReplayed)).toBe(true);
      const percents = progress.map((report) => report.percent);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(progress.at(-1)).toMatchObject({ phase: 'done', percent: 100 });
    }, 30_000);
  });
});
