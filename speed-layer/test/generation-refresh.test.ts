import { setTimeout as sleep } from 'node:timers/promises';
import { compileGeneration, generationPointerName, publishViewGeneration, type Catalog } from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer } from '../src/index.js';
import { FaultyViewStore, URL_VIEW, appendViews, deferred, generateViews, makeCatalog, openPlatform, type Platform } from './helpers.js';

let platform: Platform;
let catalog: Catalog;

beforeEach(async () => {
  platform = await openPlatform('refresh');
  catalog = makeCatalog();
});

afterEach(async () => {
  await platform.cleanUp();
});

describe('when two reprocesses switch generations at once', () => {
  it('should end up folding the newest generation, whichever refresh read the pointers first', async () => {
    const store = new FaultyViewStore(platform.store);
    const speed = await SpeedLayer.create({ eventLog: platform.log, viewStore: store, catalog, batchIntervalMs: 5 });
    try {
      // The first refresh reads the url view's pointer (generation 1) and is held there...
      const held = deferred();
      const release = deferred();
      const readManifest = store.readManifest.bind(store);
      let holding = true;
      store.readManifest = async (name) => {
        const manifest = await readManifest(name);
        if (holding && name === generationPointerName(URL_VIEW)) {
          holding = false;
          held.resolve();
          await release.promise;
        }
        return manifest;
      };
      const first = speed.refreshGenerations();
      await held.promise;

      // ...while a reprocess switches the view to generation 2 and asks for a refresh of its own.
      const base = catalog.views.get(URL_VIEW)!;
      await publishViewGeneration(store, compileGeneration(catalog, { ...base.definition, aggregates: { views: 'count()' } }, 2));
      const second = speed.refreshGenerations();
      // Time for the second to finish ahead of the first, were they not one at a time.
      await Promise.race([second, sleep(300)]);
      release.resolve();
      await Promise.all([first, second]);

      expect(await speed.refreshGenerations()).toBe(false);
      await appendViews(platform.log, generateViews(20, 7));
      await speed.runOnce();
      const slices = await store.listSlices(`${URL_VIEW}@g2`);
      expect(slices.reduce((records, slice) => records + slice.end - slice.start, 0)).toBeGreaterThan(0);
    } finally {
      await speed.stop();
    }
  });
});
