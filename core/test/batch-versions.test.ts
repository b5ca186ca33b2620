import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, TimeoutError } from '../src/errors/errors.js';
import { nextBatchVersion, publishBuiltVersion } from '../src/ports/view-store/batch-versions.js';
import { EmbeddedViewStore } from '../src/ports/view-store/embedded/embedded-view-store.js';
import type { BatchManifest, ViewStore } from '../src/ports/view-store/view-store.js';
import { makeTempDir } from '@lambda/test-kit';

const VIEW = 'versions_view';
const ROWS = [{ key: 'a', windowStart: 0, state: { n: 1 } }];

function manifest(version: number): BatchManifest {
  return { view: VIEW, version, horizon: [version], publishedAt: 1, newestRecordAt: null };
}

describe('when a batch version is built', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let store: EmbeddedViewStore;

  beforeEach(async () => {
    dir = await makeTempDir('batch-versions');
    store = await EmbeddedViewStore.open({ directory: join(dir.path, 'views'), fsync: 'never' });
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  it('should number it above the serving version and above every version whose rows are being written', async () => {
    expect(nextBatchVersion(undefined, [])).toBe(1);
    await store.putBatchRows(VIEW, 2, ROWS);
    await store.publishBatchVersion(manifest(2));
    await store.putBatchRows(VIEW, 5, ROWS); // a run still in flight
    expect(nextBatchVersion(await store.readManifest(VIEW), await store.listBatchVersions(VIEW))).toBe(6);
    expect(nextBatchVersion(manifest(9), [3])).toBe(10);
  });

  it('should publish it, its rows serving', async () => {
    await store.putBatchRows(VIEW, 1, ROWS);
    await publishBuiltVersion(store, manifest(1));
    expect((await store.readManifest(VIEW))?.version).toBe(1);
    expect(await store.readBatchRows(VIEW, 1)).toHaveLength(1);
  });

  describe('when the store refuses it because a newer version serves', () => {
    it('should delete its rows and rethrow the refusal', async () => {
      await store.putBatchRows(VIEW, 2, ROWS); // built, then overtaken by version 3
      await store.putBatchRows(VIEW, 3, ROWS);
      await store.publishBatchVersion(manifest(3));
      await expect(publishBuiltVersion(store, manifest(2))).rejects.toBeInstanceOf(ConflictError);
      expect(await store.listBatchVersions(VIEW)).toEqual([3]);
      expect((await store.readManifest(VIEW))?.version).toBe(3);
    });
  });

  describe('when the publish fails otherwise, and may have landed', () => {
    it('should keep its rows and rethrow the failure', async () => {
      await store.putBatchRows(VIEW, 1, ROWS);
      const timingOut = new Proxy(store as ViewStore, {
        get(target, property) {
          if (property === 'publishBatchVersion') return () => Promise.reject(new TimeoutError('the publish timed out'));
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      await expect(publishBuiltVersion(timingOut, manifest(1))).rejects.toBeInstanceOf(TimeoutError);
      expect(await store.listBatchVersions(VIEW)).toEqual([1]);
    });
  });
});
