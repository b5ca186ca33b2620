/**
 * The speed layer with its partitions folded on worker threads: the same answers as in one thread,
 * through restarts, failed writes and a worker that dies.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer } from '../src/index.js';
import {
  DEAD_LETTER_TOPIC,
  FaultyViewStore,
  URL_VIEW,
  USER_VIEW,
  appendRaw,
  appendViews,
  expectedUrlRows,
  expectedUserRows,
  generateViews,
  makeCatalog,
  mergedSliceRows,
  openPlatform,
  readAll,
  type Platform,
} from './helpers.js';

describe('when partitions are folded on worker threads', () => {
  let platform: Platform;
  const catalog = makeCatalog();
  const speedLayers: SpeedLayer[] = [];
  const start = async (options: Partial<Parameters<typeof SpeedLayer.create>[0]> = {}) => {
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, workers: 2, slicePolicy: { microBatches: 2 }, ...options });
    speedLayers.push(speed);
    return speed;
  };

  beforeEach(async () => {
    platform = await openPlatform('workers');
  });
  afterEach(async () => {
    for (const speed of speedLayers.splice(0)) await speed.stop();
    await platform.cleanUp();
  });

  it('should count every record exactly as one thread does, batch after batch', async () => {
    const speed = await start({ maxRecordsPerPartition: 70 });
    const events = generateViews(600, 7);
    await appendViews(platform.log, events.slice(0, 300));
    while ((await speed.runOnce()).backlog);
    await appendViews(platform.log, events.slice(300));
    while ((await speed.runOnce()).backlog);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
    expect(await mergedSliceRows(platform.store, catalog.views.get(USER_VIEW)!)).toEqual(expectedUserRows(events));
    expect(speed.positions(URL_VIEW)).toEqual(await platform.log.endOffsets('pageviews'));
  });

  it('should send invalid records to the dead-letter topic from the workers', async () => {
    const speed = await start();
    const events = generateViews(50, 8);
    await appendViews(platform.log, events);
    await appendRaw(platform.log, 1, [{ value: 'not json' }, { value: '{"url":"/x"}' }]);
    await speed.runOnce();
    const deadLetters = await readAll(platform.log, DEAD_LETTER_TOPIC);
    expect(deadLetters.map((record) => record.value.toString()).sort()).toEqual(['not json', '{"url":"/x"}']);
    expect(deadLetters.every((record) => record.partition === 1)).toBe(true);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
  });

  it('should recover from a failed slice write, restoring the workers from the store', async () => {
    const store = new FaultyViewStore(platform.store);
    const speed = await start({ viewStore: store });
    const events = generateViews(400, 9);
    await appendViews(platform.log, events.slice(0, 200));
    await speed.runOnce();
    let failures = 1;
    store.beforePutSlice = async () => {
      if (failures-- > 0) throw new Error('injected failure');
    };
    await appendViews(platform.log, events.slice(200));
    await expect(speed.runOnce()).rejects.toThrow(/injected failure/);
    while ((await speed.runOnce()).backlog);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
  });

  it('should carry on after a restart, with workers of a new speed layer', async () => {
    const events = generateViews(500, 10);
    const first = await start();
    await appendViews(platform.log, events.slice(0, 250));
    await first.runOnce();
    await first.stop();
    const second = await start();
    await appendViews(platform.log, events.slice(250));
    while ((await second.runOnce()).backlog);
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
  });

  it('should start a worker again when one dies, and lose nothing', async () => {
    const speed = await start();
    const events = generateViews(300, 11);
    await appendViews(platform.log, events.slice(0, 150));
    await speed.runOnce();
    // Kill the workers' threads from inside: the next batch fails, then recovers on new threads.
    await (speed as unknown as { executor: { workers: { worker: { terminate(): Promise<number> } }[] } }).executor.workers[0]!.worker.terminate();
    await appendViews(platform.log, events.slice(150));
    // Its partitions' folders on the new thread were never restored: the batch must fail, not skip them.
    await expect(speed.runOnce()).rejects.toThrow(/not restored/);
    while ((await speed.runOnce()).backlog);
    expect(speed.positions(URL_VIEW)).toEqual(await platform.log.endOffsets('pageviews'));
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
  });
});
