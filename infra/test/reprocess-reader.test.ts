/**
 * What generations cost a reader: a view never reprocessed is read exactly as before (no read of its
 * generation pointer, a cached answer only its shape), and after a reprocess a reader that remembered the
 * old generation follows the pointer once, on the tombstone, then reads the new generation directly.
 */
import { generationPointerName, type ViewStore } from '@lambda/core';
import { MergedViewReader } from '@lambda/serving-layer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reprocessor, SpeedLayer } from '@lambda/speed-layer';
import {
  appendViews,
  expectedUrlRows,
  generateViews,
  makeUrlOnlyCatalog,
  openPlatform,
  URL_VIEW,
  type Platform,
} from './helpers/speed-fixtures.js';

/** A view store that counts the manifest reads per view name, and every other read. */
function counting(store: ViewStore): { store: ViewStore; manifests: Map<string, number>; reads: () => number; reset: () => void } {
  const manifests = new Map<string, number>();
  let reads = 0;
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'readManifest') manifests.set(args[0] as string, (manifests.get(args[0] as string) ?? 0) + 1);
        if (['readManifest', 'listSlices', 'readSlice', 'readBatchRows'].includes(property as string)) reads++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: counted, manifests, reads: () => reads, reset: () => (manifests.clear(), (reads = 0)) };
}

const rowsOf = (windows: readonly { key: string; windowStart: number; values: object }[]) =>
  Object.fromEntries(windows.map((window) => [`${window.key}@${window.windowStart}`, window.values]));

describe('when a reader serves views that may be reprocessed', () => {
  let platform: Platform;
  beforeEach(async () => {
    platform = await openPlatform('reprocess-reader');
  });
  afterEach(() => platform.cleanUp());

  it('should read no generation pointer for a view never reprocessed, and only the shape for a cached answer', async () => {
    const catalog = makeUrlOnlyCatalog();
    const events = generateViews(400, 3);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    const slices = (await platform.store.listSlices(URL_VIEW)).length;
    const counted = counting(platform.store);
    const reader = new MergedViewReader(counted.store, catalog);

    const first = await reader.read(URL_VIEW);
    expect(rowsOf(first.windows)).toEqual(expectedUrlRows(events));
    // The cache check's manifest and listing, then the snapshot's two manifests, listing and slices (no
    // batch version yet, so no rows of one): what a reader read before generations existed.
    expect(await platform.store.readManifest(URL_VIEW)).toBeUndefined();
    expect(counted.manifests.get(URL_VIEW)).toBe(3);
    expect(counted.reads()).toBe(3 + 2 + slices);
    counted.reset();
    const again = await reader.read(URL_VIEW);
    expect(again.provenance.attempts).toBe(0);
    expect(counted.reads()).toBe(2);
    expect(counted.manifests.get(generationPointerName(URL_VIEW))).toBeUndefined();
    await speed.stop();
  });

  it('should follow the pointer once after a reprocess, then read the new generation directly', async () => {
    const catalog = makeUrlOnlyCatalog();
    const events = generateViews(400, 4);
    await appendViews(platform.log, events);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, slicePolicy: { microBatches: 2 } });
    while ((await speed.runOnce()).backlog);
    const counted = counting(platform.store);
    const reader = new MergedViewReader(counted.store, catalog);
    expect(rowsOf((await reader.read(URL_VIEW)).windows)).toEqual(expectedUrlRows(events));

    const definition = { ...catalog.views.get(URL_VIEW)!.definition, filter: 'latency < 200' };
    const result = await new Reprocessor({ eventLog: platform.log, viewStore: platform.store, catalog, speedLayer: speed }).reprocess(URL_VIEW, { definition });
    const newTruth = expectedUrlRows(events.filter((event) => event.latency !== null && event.latency < 200));
    expect(newTruth).not.toEqual(expectedUrlRows(events));

    counted.reset();
    const switched = await reader.read(URL_VIEW);
    expect(rowsOf(switched.windows)).toEqual(newTruth);
    expect(switched.provenance.attempts).toBe(2); // the tombstone, then the new generation
    expect(counted.manifests.get(generationPointerName(URL_VIEW))).toBe(1);
    expect(counted.manifests.get(result.storage)).toBeGreaterThan(0);

    counted.reset();
    const later = await reader.read(URL_VIEW, { keys: ['/cart'] });
    expect(later.provenance.attempts).toBe(1);
    expect(counted.manifests.get(generationPointerName(URL_VIEW))).toBeUndefined();
    expect(counted.manifests.get(URL_VIEW)).toBeUndefined();
    // A fresh reader starts from the retired first generation, and follows the pointer too.
    expect(rowsOf((await new MergedViewReader(platform.store, catalog).read(URL_VIEW)).windows)).toEqual(newTruth);
    await speed.stop();
  });
});
