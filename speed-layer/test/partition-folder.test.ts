/**
 * The partition folder folds on while a proposal's writes are on their way: what it folds then goes
 * into the next proposal (past a cut, into the next slice), and the proposals written in turn equal a
 * fold of every record at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '@lambda/core';
import { PartitionFolder } from '../src/partition-folder.js';
import {
  TOPIC,
  URL_VIEW,
  USER_VIEW,
  expectContiguous,
  expectedUrlRows,
  expectedUserRows,
  generateViews,
  makeCatalog,
  mergedSliceRows,
  openPlatform,
  type Platform,
} from './helpers.js';

describe('a partition folder with a proposal on its way', () => {
  let platform: Platform;
  const catalog = makeCatalog();
  const events = generateViews(300, 7).map((event) => ({ ...event, partition: 0 }));
  const records: LogRecord[] = events.map((event, offset) => ({
    topic: TOPIC,
    partition: 0,
    offset,
    timestamp: event.ts,
    key: null,
    value: Buffer.from(JSON.stringify({ url: event.url, user: event.user, latency: event.latency, ts: event.ts })),
    headers: {},
  }));

  beforeEach(async () => {
    platform = await openPlatform('folder');
  });
  afterEach(async () => {
    await platform.cleanUp();
  });

  const folderOf = (microBatches: number) => {
    const folder = new PartitionFolder(catalog.sources.get(TOPIC)!, catalog.viewsOf(TOPIC), 0, { microBatches, maxAgeMs: 60_000 });
    folder.restore([], 0);
    return folder;
  };

  for (const microBatches of [1, 2]) {
    it(`should put what it folds meanwhile in the next proposal, equal to one fold of everything (${microBatches === 1 ? 'every slice cut' : 'slices kept open'})`, async () => {
      const folder = folderOf(microBatches);
      let proposal = folder.propose(0);
      for (let from = 0; from < records.length; from += 100) {
        // The proposal's writes are still on their way while the next records are folded.
        for (const record of records.slice(from, from + 100)) folder.foldRecord(record);
        expect(folder.readFrom).toBe(from + 100);
        for (const { slice, rows } of proposal.writes) await platform.store.putSlice(slice, rows);
        folder.settle();
        proposal = folder.propose(0);
      }
      for (const { slice, rows } of proposal.writes) await platform.store.putSlice(slice, rows);
      folder.settle();

      expect(folder.ends).toEqual({ [URL_VIEW]: records.length, [USER_VIEW]: records.length });
      for (const view of catalog.viewsOf(TOPIC)) {
        const slices = await platform.store.listSlices(view.name);
        expectContiguous(slices);
        expect(slices.at(-1)!.end).toBe(records.length);
      }
      expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expectedUrlRows(events));
      expect(await mergedSliceRows(platform.store, catalog.views.get(USER_VIEW)!)).toEqual(expectedUserRows(events));
    });
  }

  it('should refuse a second proposal before the first one settles', () => {
    const folder = folderOf(10);
    folder.foldRecord(records[0]!);
    folder.propose(0);
    folder.foldRecord(records[1]!);
    expect(() => folder.propose(0)).toThrow(/neither settled nor restored/);
  });
});
