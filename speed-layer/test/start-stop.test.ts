import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer } from '../src/index.js';
import {
  FaultyViewStore,
  TOPIC,
  URL_VIEW,
  USER_VIEW,
  appendViews,
  committedArray,
  deferred,
  expectedUrlRows,
  expectedUserRows,
  generateViews,
  makeCatalog,
  mergedSliceRows,
  openPlatform,
  type Platform,
} from './helpers.js';

let platform: Platform;
let catalog: Catalog;

beforeEach(async () => {
  platform = await openPlatform('loop');
  catalog = makeCatalog();
});

afterEach(async () => {
  await platform.cleanUp();
});

describe('when the loop is started and then stopped', () => {
  it('should resolve stop only once the micro-batch in flight has written its slices and committed, and run no more', async () => {
    const store = new FaultyViewStore(platform.store);
    const writing = deferred();
    const release = deferred();
    store.beforePutSlice = async () => {
      writing.resolve();
      await release.promise;
    };
    const events = generateViews(50, 200);
    await appendViews(platform.log, events);
    const ends = await platform.log.endOffsets(TOPIC);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog, batchIntervalMs: 5 });

    speed.start();
    await writing.promise;
    let stopped = false;
    const stopping = speed.stop().then(() => (stopped = true));
    await sleep(30);
    expect(stopped).toBe(false);
    expect(await committedArray(platform.log)).toEqual([undefined, undefined, undefined]);

    release.resolve();
    await stopping;

    expect(await committedArray(platform.log)).toEqual(ends);
    expect(speed.positions(URL_VIEW)).toEqual(ends);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
    expect(await mergedSliceRows(platform.store, catalog.views.get(USER_VIEW)!)).toEqual(expectedUserRows(events));

    // Stopped: records appended now wait for the next start (or runOnce).
    const written = store.putSlices.length;
    const more = generateViews(10, 201);
    await appendViews(platform.log, more);
    await sleep(40);
    expect(store.putSlices.length).toBe(written);
    expect(await committedArray(platform.log)).toEqual(ends);

    await speed.runOnce();
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows([...events, ...more]));
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
  });

  it('should stop at once while waiting for the next micro-batch', async () => {
    const events = generateViews(20, 210);
    await appendViews(platform.log, events);
    const store = new FaultyViewStore(platform.store);
    const firstBatchWritten = deferred();
    store.beforePutSlice = async () => firstBatchWritten.resolve();
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog, batchIntervalMs: 60_000 });

    speed.start();
    await firstBatchWritten.promise;
    const started = performance.now();
    await speed.stop();

    expect(performance.now() - started).toBeLessThan(5_000);
    // The first micro-batch ran as soon as the loop started, and stop waited for its commit.
    expect(await committedArray(platform.log)).toEqual(await platform.log.endOffsets(TOPIC));
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
  });
});
