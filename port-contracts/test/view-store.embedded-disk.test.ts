import { appendFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  EmbeddedViewStore,
  LockedError,
  PlatformError,
  createLogger,
  type EmbeddedViewStoreOptions,
  type Slice,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { RowModel, makeManifest, makeSlice, readContent } from '../src/view-store-contract.js';
import { makeTempDir, snapshotTree } from '@lambda/test-kit';

const MINUTE = 60_000;
const VIEWS = ['clicks', 'sessions'];

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

describe('EmbeddedViewStore on disk', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let logs: LogLine[];
  const journalPath = () => join(dir.path, 'views.journal');
  const journalSize = async () => (await stat(journalPath())).size;
  const open = (options: Partial<EmbeddedViewStoreOptions> = {}) =>
    EmbeddedViewStore.open({
      directory: dir.path,
      logger: createLogger({
        level: 'info',
        format: 'json',
        destination: { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
      }),
      ...options,
    });
  const warnings = () => logs.filter((line) => line.level === 40);

  beforeEach(async () => {
    dir = await makeTempDir('views-disk');
    logs = [];
  });
  afterEach(() => dir.remove());

  const rowsOf = (tag: string, keys: number, windows = 1): ViewRow[] =>
    Array.from({ length: keys }, (_, k) =>
      Array.from({ length: windows }, (_, w) => ({ key: `k${String(k).padStart(3, '0')}`, windowStart: w * MINUTE, state: { tag, k, w } })),
    ).flat();

  /** A bit of everything: upserted and deleted slices, published, staged and deleted batch versions. */
  async function populate(store: ViewStore): Promise<void> {
    const [clicks, sessions] = VIEWS as [string, string];
    await store.putSlice(makeSlice(clicks, 0, 0, 10), rowsOf('c0-a', 20, 2));
    await store.putSlice(makeSlice(clicks, 0, 0, 15, { newestRecordAt: 1500 }), rowsOf('c0-b', 5));
    await store.putSlice(makeSlice(clicks, 1, 0, 4, { closed: true, newestRecordAt: 400 }), rowsOf('c1', 3));
    await store.putSlice(makeSlice(clicks, 2, 7, 7), []);
    await store.putSlice(makeSlice(sessions, 0, 0, 3), rowsOf('gone', 3));
    await store.deleteSlices([{ view: sessions, partition: 0, start: 0 }]);
    await store.putBatchRows(clicks, 1, rowsOf('v1', 10));
    await store.publishBatchVersion(makeManifest(clicks, 1));
    await store.putBatchRows(clicks, 2, rowsOf('v2', 12, 2));
    await store.publishBatchVersion(makeManifest(clicks, 2, { stats: { rows: 24 } }));
    await store.deleteBatchVersion(clicks, 1);
    await store.putBatchRows(clicks, 3, rowsOf('v3', 4));
    await store.putBatchRows(sessions, 1, rowsOf('s1', 2));
  }

  describe('when the last write was torn', () => {
    it.each([
      ['a half-written frame header', Buffer.from([0x20, 0x00, 0x00])],
      ['a frame whose payload is cut short', Buffer.concat([Buffer.from([0xff, 0x00, 0x00, 0x00, 1, 2, 3, 4]), Buffer.alloc(20, 7)])],
      ['zeros from an extended but unwritten file', Buffer.alloc(4096)],
      ['garbage', Buffer.from('{"op":"slice","slice":{"view":"clicks"} and then noise')],
    ])('should cut %s and keep every acknowledged write', async (_label, tail) => {
      const store = await open();
      await populate(store);
      const before = await readContent(store, VIEWS);
      await store.close();
      const size = await journalSize();
      await appendFile(journalPath(), tail);

      const reopened = await open();
      expect(await readContent(reopened, VIEWS)).toEqual(before);
      expect(await journalSize()).toBe(size);
      expect(warnings()).toEqual([expect.objectContaining({ msg: expect.stringContaining('torn'), truncatedBytes: tail.length })]);
      await reopened.close();
    });

    it.each([
      ['inside its header', (start: number) => start + 3],
      ['just after its header', (start: number) => start + 8],
      ['inside its payload', (start: number) => start + 40],
      ['one byte short of its end', (_start: number, end: number) => end - 1],
    ])('should drop the write whose frame is cut %s, and only it', async (_label, cutAt) => {
      const store = await open();
      await populate(store);
      const [clicks] = VIEWS as [string];
      const acknowledged = await readContent(store, VIEWS);
      const start = await journalSize();
      await store.putSlice(makeSlice(clicks, 0, 0, 99, { newestRecordAt: 9900 }), rowsOf('torn', 30));
      const end = await journalSize();
      await store.close();
      await truncate(journalPath(), cutAt(start, end));

      const reopened = await open();
      expect(await readContent(reopened, VIEWS)).toEqual(acknowledged);
      const slice = await reopened.readSlice({ view: clicks, partition: 0, start: 0 });
      expect(slice?.slice).toEqual(makeSlice(clicks, 0, 0, 15, { newestRecordAt: 1500 }));
      expect(slice?.rows.some((row) => (row.state as { tag: string }).tag === 'torn')).toBe(false);
      expect(await journalSize()).toBe(start);
      expect(warnings()).toEqual([expect.objectContaining({ truncatedBytes: cutAt(start, end) - start })]);

      // Writing continues after the cut, and both sides of it survive another reopen.
      await reopened.putSlice(makeSlice(clicks, 5, 0, 1), rowsOf('after', 2));
      const afterCut = await readContent(reopened, VIEWS);
      await reopened.close();
      const again = await open();
      expect(await readContent(again, VIEWS)).toEqual(afterCut);
      const after = await again.readSlice({ view: clicks, partition: 5, start: 0 });
      expect(after?.rows).toEqual(new RowModel().upsert(rowsOf('after', 2)).select());
      await again.close();
      expect(warnings()).toHaveLength(1);
    });

    it('should log nothing when the journal is whole', async () => {
      const store = await open();
      await populate(store);
      await store.close();
      const reopened = await open();
      await reopened.close();
      expect(warnings()).toEqual([]);
    });
  });

  describe('when the journal outgrows the state', () => {
    const compactAfterBytes = 16 * 1024;

    it('should compact it, and a reopen should give identical content', async () => {
      const store = await open({ compactAfterBytes });
      await populate(store);
      const [clicks, sessions] = VIEWS as [string, string];
      // Many overlapping upserts of the same few rows: the journal grows, the state does not.
      const slices = new Map<string, { slice: Slice; rows: RowModel }>();
      const sizes: number[] = [];
      let written = 0;
      for (let i = 0; i < 400; i++) {
        const slice = makeSlice(sessions, i % 3, 0, i + 1, { newestRecordAt: i * 10 });
        const rows = rowsOf(`round-${i}`, 8, 2).filter((_, r) => (r + i) % 3 !== 0);
        await store.putSlice(slice, rows);
        written += JSON.stringify(rows).length;
        const key = String(slice.partition);
        slices.set(key, { slice, rows: (slices.get(key)?.rows ?? new RowModel()).upsert(rows) });
        sizes.push(await journalSize());
      }
      expect(written).toBeGreaterThan(10 * compactAfterBytes);
      expect(sizes.some((size, i) => i > 0 && size < sizes[i - 1]!)).toBe(true);
      expect(sizes.at(-1)!).toBeLessThan(2 * compactAfterBytes);
      expect(logs.some((line) => line.msg.includes('compacted'))).toBe(true);

      const before = await readContent(store, VIEWS);
      expect(before.views[sessions]!.slices).toEqual(
        [...slices.values()]
          .sort((a, b) => a.slice.partition - b.slice.partition)
          .map(({ slice, rows }) => ({ slice, rows: rows.select() })),
      );
      expect(before.views[clicks]!.versions.map((v) => v.version)).toEqual([2, 3]);
      await store.close();
      expect((await readdir(dir.path)).sort()).toEqual(['views.journal']);

      const reopened = await open({ compactAfterBytes });
      expect(await readContent(reopened, VIEWS)).toEqual(before);
      await reopened.close();
      expect(warnings()).toEqual([]);
    });

    it('should keep every write made concurrently with a compaction', async () => {
      const store = await open({ compactAfterBytes: 4096, fsync: 'never' });
      const [clicks] = VIEWS as [string];
      await store.putBatchRows(clicks, 1, rowsOf('base', 50));
      await store.publishBatchVersion(makeManifest(clicks, 1));
      const model = new Map<number, RowModel>();
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          if (i % 50 === 49) return store.publishBatchVersion(makeManifest(clicks, 2 + Math.floor(i / 50)));
          const rows = rowsOf(`burst-${i}`, 6).map((row) => ({ ...row, key: `${row.key}-${i % 5}` }));
          model.set(i % 4, (model.get(i % 4) ?? new RowModel()).upsert(rows));
          return store.putSlice(makeSlice(clicks, i % 4, 0, i), rows);
        }),
      );
      const before = await readContent(store, VIEWS);
      expect(before.views[clicks]!.manifest).toEqual(makeManifest(clicks, 5));
      for (const { slice, rows } of before.views[clicks]!.slices) expect(rows).toEqual(model.get(slice.partition)!.select());
      await store.close();
      const reopened = await open();
      expect(await readContent(reopened, VIEWS)).toEqual(before);
      await reopened.close();
    });

    it('should carry tables of many rows through a compaction', async () => {
      const store = await open({ compactAfterBytes: 64 * 1024, fsync: 'never' });
      const [clicks] = VIEWS as [string];
      const big = rowsOf('big', 2500, 10);
      const bigAgain = rowsOf('big-again', 2500, 10);
      await store.putBatchRows(clicks, 7, big);
      await store.putSlice(makeSlice(clicks, 0, 0, 1), big);
      await store.putSlice(makeSlice(clicks, 0, 0, 2), bigAgain);
      // Three big writes, two big tables: a compaction left about two writes' worth.
      const bigBytes = JSON.stringify(big).length;
      expect(await journalSize()).toBeLessThan(2.5 * bigBytes);
      expect(logs.some((line) => line.msg.includes('compacted'))).toBe(true);
      await store.close();
      const reopened = await open();
      expect(await reopened.readBatchRows(clicks, 7)).toEqual(new RowModel().upsert(big).select());
      expect(await reopened.readSlice({ view: clicks, partition: 0, start: 0 })).toEqual({
        slice: makeSlice(clicks, 0, 0, 2),
        rows: new RowModel().upsert(bigAgain).select(),
      });
      expect(await reopened.listBatchVersions(clicks)).toEqual([7]);
      await reopened.close();
    });

    it('should ignore what a compaction interrupted by a crash left behind', async () => {
      const store = await open();
      await populate(store);
      const before = await readContent(store, VIEWS);
      await store.close();
      await writeFile(`${journalPath()}.compacting`, Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('half')]));
      const reopened = await open();
      expect(await readContent(reopened, VIEWS)).toEqual(before);
      await reopened.close();
      expect((await readdir(dir.path)).sort()).toEqual(['views.journal']);
    });
  });

  describe('when two owners compete for the directory', () => {
    it('should refuse a second open while the first is live', async () => {
      const store = await open();
      await populate(store);
      const before = await readContent(store, VIEWS);
      await expect(open()).rejects.toBeInstanceOf(LockedError);
      // The refused open changed nothing for the owner.
      await store.putSlice(makeSlice('clicks', 9, 0, 1), []);
      await store.close();
      const again = await open();
      expect((await readContent(again, VIEWS)).views).toEqual({
        ...before.views,
        clicks: { ...before.views.clicks, slices: [...before.views.clicks!.slices, { slice: makeSlice('clicks', 9, 0, 1), rows: [] }] },
      });
      await again.close();
    });

    it('should take over the lock of a process that died', async () => {
      await writeFile(join(dir.path, '.lock'), '999999999\n'); // no such pid
      const store = await open();
      await store.close();
    });
  });

  describe('when invalid or conflicting input arrives', () => {
    it('should change nothing on disk', async () => {
      const store = await open();
      await populate(store);
      const [clicks] = VIEWS as [string];
      const before = await snapshotTree(dir.path);
      const content = await readContent(store, VIEWS);
      const attempts: Array<() => Promise<unknown>> = [
        () => store.putSlice(makeSlice('bad name', 0, 0, 1), []),
        () => store.putSlice(makeSlice('../escape', 0, 0, 1), []),
        () => store.putSlice(makeSlice(clicks, -1, 0, 1), []),
        () => store.putSlice(makeSlice(clicks, 0, 0.5, 1), []),
        () => store.putSlice(makeSlice(clicks, 0, 10, 9), []),
        () =>
          store.putSlice(makeSlice(clicks, 0, 0, 20), [
            { key: 'k000', windowStart: 0, state: 1 },
            { key: 'k001', windowStart: 1.5, state: 1 },
          ]),
        () => store.deleteSlices([{ view: clicks, partition: 0, start: 0 }, { view: clicks, partition: -2, start: 0 }]),
        () => store.putBatchRows(clicks, 0, rowsOf('x', 1)),
        () => store.putBatchRows(clicks, 1.5, rowsOf('x', 1)),
        () => store.putBatchRows(clicks, 2, rowsOf('x', 1)),
        () => store.publishBatchVersion(makeManifest(clicks, 2)),
        () => store.publishBatchVersion(makeManifest(clicks, 4, { horizon: [1, -1] })),
        () => store.deleteBatchVersion(clicks, 2),
        () => store.deleteBatchVersion(clicks, 0),
      ];
      for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(PlatformError);
      expect(await snapshotTree(dir.path)).toEqual(before);
      expect(await readContent(store, VIEWS)).toEqual(content);
      await store.close();
    });
  });

  describe('when closed', () => {
    it('should refuse every call, and closing again should do nothing', async () => {
      const store = await open();
      await store.close();
      await store.close();
      const calls: Array<() => Promise<unknown>> = [
        () => store.putSlice(makeSlice('clicks', 0, 0, 1), []),
        () => store.readSlice({ view: 'clicks', partition: 0, start: 0 }),
        () => store.listSlices('clicks'),
        () => store.deleteSlices([]),
        () => store.putBatchRows('clicks', 1, []),
        () => store.publishBatchVersion(makeManifest('clicks', 1)),
        () => store.readManifest('clicks'),
        () => store.readBatchRows('clicks', 1),
        () => store.listBatchVersions('clicks'),
        () => store.deleteBatchVersion('clicks', 1),
        () => store.listViews(),
      ];
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(ClosedError);
    });

    it('should finish the writes already asked for before it closes', async () => {
      const store = await open();
      const writes = Array.from({ length: 20 }, (_, i) => store.putSlice(makeSlice('clicks', i, 0, 1), rowsOf(`w${i}`, 2)));
      await store.close();
      await Promise.all(writes);
      const reopened = await open();
      expect((await reopened.listSlices('clicks')).map((slice) => slice.partition)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await reopened.close();
    });
  });

  describe('when fsync runs on an interval', () => {
    it('should acknowledge writes and keep them across a reopen', async () => {
      const store = await open({ fsync: 'interval', fsyncIntervalMs: 5 });
      await populate(store);
      const before = await readContent(store, VIEWS);
      await store.close();
      const reopened = await open({ fsync: 'interval', fsyncIntervalMs: 5 });
      expect(await readContent(reopened, VIEWS)).toEqual(before);
      await reopened.close();
    });
  });
});
