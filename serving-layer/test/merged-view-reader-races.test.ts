/**
 * A publish or a clean-up moving underneath a read: a store wrapper runs real writes on the real store at
 * chosen moments of the reader's work, and the reader must still give an exact answer (the records below
 * the position it reports), reading again as often as it takes, or fail with a retriable error.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError, PlatformError, type EmbeddedViewStore, type Slice, seededRandom } from '@lambda/core';
import { MergedViewReader } from '../src/index.js';
import {
  BASE,
  MINUTE,
  VIEW,
  HookedViewStore,
  below,
  generateRecords,
  naiveAnswer,
  newestOf,
  openTestStore,
  publishBatch,
  putSlice,
  rowsOf,
  testCatalog,
} from './helpers.js';

const NOW = BASE + 30 * MINUTE;
const catalog = testCatalog();
const records = generateRecords(seededRandom(2024), [40, 35]);

describe('MergedViewReader when the store changes during a read', () => {
  let store: EmbeddedViewStore;
  let close: () => Promise<void>;
  let hooked: HookedViewStore;
  let reader: MergedViewReader;
  const slices: Record<string, Slice> = {};

  beforeEach(async () => {
    ({ store, close } = await openTestStore());
    hooked = new HookedViewStore(store);
    // These tests drive the snapshot's re-reads, step by step: no answer cache in between.
    reader = new MergedViewReader(hooked, catalog, { now: () => NOW, cacheAnswers: false });
    // Version 1 covers offsets below [10, 10]; above it, partition 0 has two closed slices and an open
    // one, partition 1 a closed slice and an open one. Position: [38, 31].
    await publishBatch(store, records, 1, [10, 10]);
    slices.a = await putSlice(store, records, { partition: 0, start: 10, end: 20, closed: true });
    slices.b = await putSlice(store, records, { partition: 0, start: 20, end: 30, closed: true });
    slices.c = await putSlice(store, records, { partition: 0, start: 30, end: 38, closed: false });
    slices.d = await putSlice(store, records, { partition: 1, start: 10, end: 25, closed: true });
    slices.e = await putSlice(store, records, { partition: 1, start: 25, end: 31, closed: false });
  });

  afterEach(async () => {
    await close();
  });

  /** What the batch layer does: publish version 2 at [30, 25] and delete the slices it covers. */
  const publishAndCleanUp = async (options: { deleteOldVersion?: boolean } = {}) => {
    await publishBatch(store, records, 2, [30, 25], BASE + 25 * MINUTE);
    await store.deleteSlices([slices.a!, slices.b!, slices.d!]);
    if (options.deleteOldVersion) await store.deleteBatchVersion(VIEW, 1);
  };

  const expectExact = (answer: Awaited<ReturnType<MergedViewReader['read']>>) => {
    const counted = below(records, answer.provenance.position);
    expect(answer.windows).toEqual(naiveAnswer(counted));
    expect(answer.provenance.newestRecordAt).toBe(newestOf(counted));
    expect(answer.windows.length).toBeGreaterThan(0);
  };

  it('should answer exactly with no change, in one read', async () => {
    const answer = await reader.read(VIEW);
    expectExact(answer);
    expect(answer.provenance.position).toEqual([38, 31]);
    expect(answer.provenance.attempts).toBe(1);
  });

  it('should read again when a slice vanishes because a newer version covers it', async () => {
    hooked.beforeReadSlice = async (_ref, call) => {
      if (call === 1) await publishAndCleanUp();
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(2);
    expect(answer.provenance.batch?.version).toBe(2);
    expect(answer.provenance.batch?.horizon).toEqual([30, 25]);
    expect(answer.provenance.slices).toEqual([
      { partition: 0, start: 30, end: 38, closed: false },
      { partition: 1, start: 25, end: 31, closed: false },
    ]);
    expect(answer.provenance.position).toEqual([38, 31]);
  });

  it('should read again when a publish and clean-up happen after it read the manifest (a gap from the old horizon)', async () => {
    hooked.afterReadManifest = async (call) => {
      if (call === 1) await publishAndCleanUp({ deleteOldVersion: true });
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(2);
    expect(answer.provenance.batch?.version).toBe(2);
    expect(answer.provenance.position).toEqual([38, 31]);
  });

  it('should read again when only the manifest version tells that a publish happened', async () => {
    // No slice is left above the new horizon, so the listing shows no gap; the old version's rows are
    // gone, so the first read saw an empty batch version: only the manifest's version changed.
    await store.deleteSlices([slices.c!, slices.e!]);
    hooked.afterReadManifest = async (call) => {
      if (call !== 1) return;
      await publishBatch(store, records, 2, [30, 25], BASE + 25 * MINUTE);
      await store.deleteSlices([slices.a!, slices.b!, slices.d!]);
      await store.deleteBatchVersion(VIEW, 1);
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(2);
    expect(answer.provenance.batch?.version).toBe(2);
    expect(answer.provenance.slices).toEqual([]);
    expect(answer.provenance.position).toEqual([30, 25]);
    expect(hooked.calls.readBatchRows).toBe(2);
  });

  it('should read again when a slice vanishes for a moment while it reads it', async () => {
    hooked.beforeReadSlice = async (ref, call) => {
      if (call === 1) await store.deleteSlices([ref]);
    };
    hooked.afterReadSlice = async (call) => {
      if (call !== 1) return;
      const slice = slices.a!;
      const inside = records.filter((r) => r.partition === 0 && r.offset >= slice.start && r.offset < slice.end);
      await store.putSlice(slice, rowsOf(inside));
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(2);
    expect(answer.provenance.batch?.version).toBe(1);
    expect(answer.provenance.slices).toHaveLength(5);
    expect(answer.provenance.position).toEqual([38, 31]);
  });

  it('should read again when the listing has a gap in a partition chain', async () => {
    // A slice in the middle of partition 0 is missing while the slices are listed, then is back.
    hooked.beforeListSlices = async (call) => {
      if (call === 1) await store.deleteSlices([slices.b!]);
    };
    hooked.afterListSlices = async (call) => {
      if (call !== 1) return;
      const inside = records.filter((r) => r.partition === 0 && r.offset >= 20 && r.offset < 30);
      await store.putSlice(slices.b!, rowsOf(inside));
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(2);
    expect(answer.provenance.position).toEqual([38, 31]);
  });

  it('should count the records the speed layer adds to the open slice during the read, up to the end it read', async () => {
    hooked.afterListSlices = async (call) => {
      if (call === 1) await putSlice(store, records, { partition: 1, start: 25, end: 35, closed: false });
    };
    const answer = await reader.read(VIEW);

    expectExact(answer);
    expect(answer.provenance.attempts).toBe(1);
    expect(answer.provenance.position).toEqual([38, 35]);
  });

  it('should fail with a retriable ConnectionError when the view never stops changing', async () => {
    let version = 1;
    hooked.afterReadManifest = async () => {
      version += 1;
      await publishBatch(store, records, version, [10, 10]);
    };
    const limited = new MergedViewReader(hooked, catalog, { now: () => NOW, maxAttempts: 4, cacheAnswers: false });
    const error = await limited.read(VIEW).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as ConnectionError).retriable).toBe(true);
    expect((error as ConnectionError).code).toBe('CONNECTION');
    expect((error as ConnectionError).message).toContain(`"${VIEW}"`);
    expect((error as ConnectionError).context).toEqual({ view: VIEW });
    expect(hooked.calls.listSlices).toBe(4);
  });

  it('should give up after 10 reads by default', async () => {
    let version = 1;
    hooked.afterReadManifest = async () => {
      version += 1;
      await publishBatch(store, records, version, [10, 10]);
    };
    await expect(reader.read(VIEW)).rejects.toBeInstanceOf(ConnectionError);
    expect(hooked.calls.listSlices).toBe(10);
  });

  it('should fail retriably, not answer wrongly, when a chain stays broken', async () => {
    await store.deleteSlices([slices.b!]);
    const error = await new MergedViewReader(hooked, catalog, { maxAttempts: 3, cacheAnswers: false }).read(VIEW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(hooked.calls.listSlices).toBe(3);
  });
});
