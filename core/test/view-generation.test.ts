/** View generations: the pointer a reprocess switches readers with is a typed record, checked when read. */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '@lambda/test-kit';
import {
  Catalog,
  CorruptDataError,
  EmbeddedViewStore,
  compileGeneration,
  generationPointerName,
  publishViewGeneration,
  readViewGeneration,
  type JsonObject,
  type ViewDefinition,
} from '../src/index.js';

const VIEW = 'clicks_by_page';
const definition: ViewDefinition = { name: VIEW, source: 'clicks', key: 'page', aggregates: { clicks: 'count()' } };
const catalog = Catalog.compile({ sources: [{ topic: 'clicks', eventTimeField: 'ts', fields: { page: 'string' } }], views: [definition] });

describe('view generations', () => {
  let dir: TempDir;
  let store: EmbeddedViewStore;
  beforeEach(async () => {
    dir = await makeTempDir('view-generation');
    store = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  describe('when a view was never reprocessed', () => {
    it("should serve generation 1 under the view's own name, with the catalog's definition", async () => {
      expect(await readViewGeneration(store, catalog, VIEW)).toMatchObject({ generation: 1, storage: VIEW, definition });
    });
  });

  describe('when a generation is published', () => {
    it('should read back the same generation, storage and definition, compiled under the storage name', async () => {
      const next = compileGeneration(catalog, { ...definition, filter: "page != '/'" }, 2);
      await publishViewGeneration(store, next, 1000);
      const serving = await readViewGeneration(store, catalog, VIEW);
      expect(serving).toMatchObject({ view: VIEW, generation: 2, storage: `${VIEW}@g2`, definition: next.definition });
      expect(serving.compiled.name).toBe(`${VIEW}@g2`);
    });
  });

  describe('when the stored pointer is not a pointer', () => {
    const pointer = (stats: JsonObject) => ({ view: generationPointerName(VIEW), version: 2, horizon: [], publishedAt: 1, newestRecordAt: null, stats });

    it.each([
      ['names another storage', { storage: `${VIEW}@g7`, definition: { ...definition } }, /names storage "clicks_by_page@g7" for generation 2/],
      ['holds no definition', { storage: `${VIEW}@g2` }, /its definition is not a view definition/],
      ['holds a definition of the wrong shape', { storage: `${VIEW}@g2`, definition: { ...definition, aggregates: 'count()' } }, /its definition is not a view definition/],
      ['holds the definition of another view', { storage: `${VIEW}@g2`, definition: { ...definition, name: 'other' } }, /its definition is named "other"/],
    ])('should refuse a pointer that %s as corrupt, naming the view', async (_case, stats, reason) => {
      await store.publishBatchVersion(pointer(stats as JsonObject));
      const read = readViewGeneration(store, catalog, VIEW);
      await expect(read).rejects.toThrow(CorruptDataError);
      await expect(read).rejects.toThrow(reason);
      await expect(read).rejects.toThrow(/generation pointer of view "clicks_by_page"/);
    });
  });
});
