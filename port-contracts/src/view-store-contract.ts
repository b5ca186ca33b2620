/**
 * The ViewStore port's contract: atomic slice writes, batch versions published forward only, filtered
 * reads, deletes, and what a reader may observe while writes race, run unchanged against the embedded
 * store and Cassandra. One file although long: a contract split over files would let an adapter pass
 * half of it.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  InvalidArgumentError,
  type BatchManifest,
  type JsonValue,
  type RowFilter,
  type Slice,
  type SliceRef,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { suiteTitle, type ContractFixture, type ContractTarget } from './contract-target.js';
import { describeWhenAvailable } from '@lambda/test-kit';

/** Everything a reader can observe of one view. */
export interface ViewContent {
  slices: Array<{ slice: Slice; rows: ViewRow[] }>;
  manifest: BatchManifest | undefined;
  versions: Array<{ version: number; rows: ViewRow[] }>;
}

/** What the store holds for `views`, through its read methods only; equal contents mean nothing observable changed. */
export async function readContent(
  store: ViewStore,
  views: readonly string[],
): Promise<{ listed: string[]; views: Record<string, ViewContent> }> {
  const listed = new Set(await store.listViews());
  const content: Record<string, ViewContent> = {};
  for (const view of views) {
    const slices: ViewContent['slices'] = [];
    for (const slice of await store.listSlices(view)) {
      const read = await store.readSlice(slice);
      expect(read, `slice ${view}/${slice.partition}/${slice.start} is listed but unreadable`).toBeDefined();
      slices.push(read!);
    }
    const versions: ViewContent['versions'] = [];
    for (const version of await store.listBatchVersions(view)) {
      versions.push({ version, rows: await store.readBatchRows(view, version) });
    }
    content[view] = { slices, manifest: await store.readManifest(view), versions };
  }
  return { listed: views.filter((view) => listed.has(view)), views: content };
}

export function makeSlice(view: string, partition: number, start: number, end: number, extra: Partial<Slice> = {}): Slice {
  return { view, partition, start, end, closed: false, newestRecordAt: null, ...extra };
}

export function makeManifest(view: string, version: number, extra: Partial<BatchManifest> = {}): BatchManifest {
  return { view, version, horizon: [version * 10, version * 20], publishedAt: 1_700_000_000_000 + version, newestRecordAt: null, ...extra };
}

/** The order the port promises: by key, then by window start. Keys in these tests are plain lowercase ASCII. */
export function byKeyThenWindow(a: ViewRow, b: ViewRow): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.windowStart - b.windowStart;
}

/** A small model of a row table: upserts by (key, windowStart), selects by filter, in the promised order. */
export class RowModel {
  private readonly rows = new Map<string, ViewRow>();

  upsert(rows: readonly ViewRow[]): this {
    for (const row of rows) this.rows.set(JSON.stringify([row.key, row.windowStart]), structuredClone(row));
    return this;
  }

  select(filter: RowFilter = {}): ViewRow[] {
    return [...this.rows.values()]
      .filter((row) => filter.keys === undefined || filter.keys.includes(row.key))
      .filter((row) => filter.windowFrom === undefined || row.windowStart >= filter.windowFrom)
      .filter((row) => filter.windowTo === undefined || row.windowStart < filter.windowTo)
      .sort(byKeyThenWindow);
  }
}

/** A fixed permutation of `items`, so writes do not arrive in the order reads must return. */
function scramble<T>(items: readonly T[], seed = 7): T[] {
  const result = [...items];
  let state = seed;
  for (let i = result.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

const MINUTE = 60_000;

export function describeViewStoreContract(target: ContractTarget<ViewStore>): void {
  describeWhenAvailable(suiteTitle('ViewStore', target), target.skipReason, () => {
    let fixture: ContractFixture<ViewStore>;
    let store: ViewStore;
    let view: string;

    beforeEach(async () => {
      fixture = await target.prepare();
      store = await fixture.open();
      view = `contract-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanUp();
    });

    const ref = (partition: number, start: number, of = view): SliceRef => ({ view: of, partition, start });
    /** An error's message without this test's view names, whose random hex digits could match any number. */
    const messageOf = (error: unknown): string => (error as Error).message.replaceAll(view, '<view>');

    describe('when writing and reading slices', () => {
      it('should read back a slice and its rows as written', async () => {
        const slice = makeSlice(view, 2, 100, 250, { closed: true, newestRecordAt: 1_700_000_123_456 });
        const rows: ViewRow[] = [
          { key: 'bravo', windowStart: 0, state: { count: 3, sum: 12.5, tags: ['a', 'b'], nested: { ok: true, none: null } } },
          { key: 'alpha', windowStart: 5 * MINUTE, state: 42 },
          { key: 'alpha', windowStart: 0, state: 'text with "quotes" and ünïcode' },
          { key: 'charlie', windowStart: -MINUTE, state: [1, [2, 3], { four: 4 }] },
          { key: 'delta', windowStart: 0, state: null },
          { key: 'echo', windowStart: 0, state: false },
        ];
        await store.putSlice(slice, rows);
        const read = await store.readSlice(ref(2, 100));
        expect(read).toEqual({ slice, rows: new RowModel().upsert(rows).select() });
        expect(await store.listSlices(view)).toEqual([slice]);
      });

      it('should return undefined for a slice that does not exist', async () => {
        expect(await store.readSlice(ref(0, 0))).toBeUndefined();
        await store.putSlice(makeSlice(view, 0, 0, 10), [{ key: 'k', windowStart: 0, state: 1 }]);
        expect(await store.readSlice(ref(0, 10))).toBeUndefined();
        expect(await store.readSlice(ref(1, 0))).toBeUndefined();
        expect(await store.readSlice(ref(0, 0, `${view}-other`))).toBeUndefined();
        expect(await store.readSlice(ref(0, 0))).toBeDefined();
      });

      it('should keep a slice without rows', async () => {
        const slice = makeSlice(view, 0, 40, 40);
        await store.putSlice(slice, []);
        expect(await store.readSlice(ref(0, 40))).toEqual({ slice, rows: [] });
      });

      it('should replace the metadata and upsert rows, keeping rows not named', async () => {
        const first = [
          { key: 'a', windowStart: 0, state: { n: 1 } },
          { key: 'b', windowStart: 0, state: { n: 2 } },
          { key: 'b', windowStart: MINUTE, state: { n: 3 } },
          { key: 'c', windowStart: 0, state: { n: 4 } },
        ];
        const second = [
          { key: 'b', windowStart: 0, state: { n: 20 } },
          { key: 'd', windowStart: 0, state: { n: 5 } },
        ];
        await store.putSlice(makeSlice(view, 1, 0, 10), first);
        const updated = makeSlice(view, 1, 0, 25, { closed: true, newestRecordAt: 1_700_000_000_999 });
        await store.putSlice(updated, second);
        const read = await store.readSlice(ref(1, 0));
        expect(read?.slice).toEqual(updated);
        expect(read?.rows).toEqual(new RowModel().upsert(first).upsert(second).select());
        expect(read?.rows.find((row) => row.key === 'b' && row.windowStart === 0)?.state).toEqual({ n: 20 });
        expect(await store.listSlices(view)).toEqual([updated]);
      });

      it('should keep metadata-only updates from touching rows', async () => {
        const rows = [{ key: 'a', windowStart: 0, state: 7 }];
        await store.putSlice(makeSlice(view, 0, 0, 5), rows);
        const closed = makeSlice(view, 0, 0, 9, { closed: true, newestRecordAt: 123 });
        await store.putSlice(closed, []);
        expect(await store.readSlice(ref(0, 0))).toEqual({ slice: closed, rows });
      });

      it('should change nothing when the same write is repeated', async () => {
        const rows = Array.from({ length: 12 }, (_, i) => ({ key: `k${i % 4}`, windowStart: (i % 3) * MINUTE, state: { i } }));
        const slice = makeSlice(view, 0, 7, 19, { newestRecordAt: 55 });
        await store.putSlice(slice, rows);
        const once = await readContent(store, [view]);
        await store.putSlice(slice, rows);
        expect(await readContent(store, [view])).toEqual(once);
        expect(once.views[view]!.slices).toEqual([{ slice, rows: new RowModel().upsert(rows).select() }]);
      });

      it('should list slices ordered by partition then start, for that view only', async () => {
        const slices = [
          makeSlice(view, 2, 0, 10),
          makeSlice(view, 0, 100, 150),
          makeSlice(view, 1, 50, 60),
          makeSlice(view, 0, 9, 100),
          makeSlice(view, 2, 1000, 1001),
          makeSlice(view, 0, 0, 9),
          makeSlice(view, 10, 3, 4),
        ];
        for (const slice of slices) await store.putSlice(slice, []);
        await store.putSlice(makeSlice(`${view}-other`, 0, 1, 2), []);
        const expected = [...slices].sort((a, b) => a.partition - b.partition || a.start - b.start);
        expect(await store.listSlices(view)).toEqual(expected);
        expect(await store.listSlices(`${view}-none`)).toEqual([]);
      });

      it('should return rows ordered by key then window start', async () => {
        const rows = scramble(
          ['k03', 'k10', 'k01', 'k22', 'k00'].flatMap((key, k) =>
            [3, 0, 7, 1].map((window) => ({ key, windowStart: window * MINUTE, state: { k, window } })),
          ),
        );
        await store.putSlice(makeSlice(view, 0, 0, 100), rows);
        const read = await store.readSlice(ref(0, 0));
        const expected = [...rows].sort(byKeyThenWindow);
        expect(read?.rows).toEqual(expected);
        expect(read?.rows.map((row) => row.key)).toEqual([...expected.map((row) => row.key)].sort());
      });

      describe('with a filter', () => {
        const keys = ['alpha', 'bravo', 'charlie', 'delta'];
        const windows = [0, 1, 2, 3, 4].map((w) => w * MINUTE);
        const rows = keys.flatMap((key) => windows.map((windowStart) => ({ key, windowStart, state: `${key}@${windowStart}` })));
        const model = new RowModel().upsert(rows);

        beforeEach(async () => {
          await store.putSlice(makeSlice(view, 0, 0, 100), scramble(rows));
        });

        it.each<[string, RowFilter]>([
          ['several keys', { keys: ['delta', 'alpha'] }],
          ['unknown keys among known ones', { keys: ['zulu', 'bravo', 'nope'] }],
          ['only unknown keys', { keys: ['zulu'] }],
          ['no keys at all', { keys: [] }],
          ['a window range, from inclusive and to exclusive', { windowFrom: MINUTE, windowTo: 3 * MINUTE }],
          ['a window range between windows', { windowFrom: MINUTE + 1, windowTo: 3 * MINUTE + 1 }],
          ['only a lower window bound', { windowFrom: 3 * MINUTE }],
          ['only an upper window bound', { windowTo: MINUTE }],
          ['an empty window range', { windowFrom: 2 * MINUTE, windowTo: 2 * MINUTE }],
          ['keys and a window range', { keys: ['charlie', 'bravo'], windowFrom: 2 * MINUTE, windowTo: 4 * MINUTE }],
        ])('should return the matching rows for %s', async (_label, filter) => {
          const read = await store.readSlice(ref(0, 0), filter);
          expect(read?.slice).toEqual(makeSlice(view, 0, 0, 100));
          expect(read?.rows).toEqual(model.select(filter));
        });

        it('should include windowFrom and exclude windowTo', async () => {
          const read = await store.readSlice(ref(0, 0), { keys: ['alpha'], windowFrom: 2 * MINUTE, windowTo: 4 * MINUTE });
          expect(read?.rows.map((row) => row.windowStart)).toEqual([2 * MINUTE, 3 * MINUTE]);
        });

        it('should return each row once when a key is named twice', async () => {
          const read = await store.readSlice(ref(0, 0), { keys: ['bravo', 'bravo'], windowTo: 2 * MINUTE });
          expect(read?.rows).toEqual(model.select({ keys: ['bravo'], windowTo: 2 * MINUTE }));
        });
      });

      it('should delete exactly the named slices', async () => {
        const other = `${view}-other`;
        const all = [
          makeSlice(view, 0, 0, 10),
          makeSlice(view, 0, 10, 20),
          makeSlice(view, 1, 0, 5),
          makeSlice(view, 2, 0, 7),
          makeSlice(other, 0, 0, 10),
        ];
        for (const slice of all) await store.putSlice(slice, [{ key: 'k', windowStart: 0, state: slice.end }]);
        const doomed = [ref(0, 10), ref(2, 0), ref(9, 9)];
        await store.deleteSlices(doomed);
        const isDoomed = (slice: Slice) =>
          doomed.some((d) => d.view === slice.view && d.partition === slice.partition && d.start === slice.start);
        expect(await store.listSlices(view)).toEqual(all.filter((slice) => slice.view === view && !isDoomed(slice)));
        for (const slice of all) {
          const read = await store.readSlice(slice);
          if (isDoomed(slice)) expect(read).toBeUndefined();
          else expect(read).toEqual({ slice, rows: [{ key: 'k', windowStart: 0, state: slice.end }] });
        }
        await store.deleteSlices([]);
        expect(await store.listSlices(other)).toEqual([all[4]]);
      });

      it('should start a deleted slice afresh when it is written again', async () => {
        await store.putSlice(makeSlice(view, 0, 0, 10), [{ key: 'old', windowStart: 0, state: 1 }]);
        await store.deleteSlices([ref(0, 0)]);
        const again = makeSlice(view, 0, 0, 3);
        await store.putSlice(again, [{ key: 'new', windowStart: 0, state: 2 }]);
        expect(await store.readSlice(ref(0, 0))).toEqual({ slice: again, rows: [{ key: 'new', windowStart: 0, state: 2 }] });
      });

      it('should keep its own copy of rows, unaffected by what callers do with theirs', async () => {
        const state = { count: 1, list: [1] };
        await store.putSlice(makeSlice(view, 0, 0, 1), [{ key: 'k', windowStart: 0, state }]);
        state.count = 99;
        state.list.push(99);
        const first = await store.readSlice(ref(0, 0));
        expect(first?.rows[0]?.state).toEqual({ count: 1, list: [1] });
        // What reads return is read-only: a write to it may throw, but must never reach the store.
        const read = first!.rows[0]!.state as { count: number; list: number[] };
        const attempt = (write: () => void) => {
          try {
            write();
          } catch {
            // refused, as a frozen object refuses it
          }
        };
        attempt(() => (read.count = 1000));
        attempt(() => read.list.push(1000));
        attempt(() => (first!.slice.end = 1000));
        expect(await store.readSlice(ref(0, 0))).toEqual({
          slice: makeSlice(view, 0, 0, 1),
          rows: [{ key: 'k', windowStart: 0, state: { count: 1, list: [1] } }],
        });
      });
    });

    describe('when slices are written and read concurrently', () => {
      it('should never show the rows of one write with the edges of another', async () => {
        const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
        const ends = Array.from({ length: 40 }, (_, i) => (i + 1) * 10);
        // Each write names every row, and each row's state says which write it came from.
        const rowsOf = (end: number) =>
          keys.flatMap((key) => [0, MINUTE].map((windowStart) => ({ key, windowStart, state: { end, key } })));
        const write = (end: number) => store.putSlice(makeSlice(view, 0, 0, end, { newestRecordAt: end * 1000 }), rowsOf(end));
        let writing = true;
        const problems: string[] = [];
        const seen = new Set<number>();
        const reader = async (filter?: RowFilter) => {
          let reads = 0;
          while (writing || reads < 5) {
            reads++;
            // Let the writes' I/O progress between reads.
            await new Promise((resolve) => setImmediate(resolve));
            const read = await store.readSlice(ref(0, 0), filter);
            if (!read) continue;
            seen.add(read.slice.end);
            const expectedCount = new RowModel().upsert(rowsOf(0)).select(filter).length;
            if (read.rows.length !== expectedCount) problems.push(`end ${read.slice.end}: ${read.rows.length} rows`);
            if (read.slice.newestRecordAt !== read.slice.end * 1000) {
              problems.push(`end ${read.slice.end}: newestRecordAt ${read.slice.newestRecordAt}`);
            }
            for (const row of read.rows) {
              const state = row.state as { end: number; key: string };
              if (state.end !== read.slice.end || state.key !== row.key) {
                problems.push(`end ${read.slice.end}: row ${row.key} from end ${state.end}`);
              }
            }
          }
          return reads;
        };
        const readers = [reader(), reader({ keys: ['k03', 'k17'] }), reader({ windowFrom: MINUTE })];
        // Half the writes in sequence, half all at once, while the readers read.
        for (const end of ends.slice(0, 20)) await write(end);
        await Promise.all(ends.slice(20).map(write));
        writing = false;
        const reads = await Promise.all(readers);
        expect(problems).toEqual([]);
        expect(reads.every((count) => count >= 5)).toBe(true);
        expect(seen.size).toBeGreaterThan(1);
        for (const end of seen) expect(ends).toContain(end);
        const last = await store.readSlice(ref(0, 0));
        expect(ends).toContain(last?.slice.end);
        expect(last?.rows.every((row) => (row.state as { end: number }).end === last.slice.end)).toBe(true);
      });
    });

    describe('when building and publishing batch versions', () => {
      const rowsOf = (version: number, keys: readonly string[]): ViewRow[] =>
        keys.flatMap((key) => [0, MINUTE, 2 * MINUTE].map((windowStart) => ({ key, windowStart, state: { version, key, windowStart } })));

      it('should keep a version invisible until it is published', async () => {
        expect(await store.readManifest(view)).toBeUndefined();
        await store.putBatchRows(view, 1, rowsOf(1, ['a', 'b']));
        expect(await store.readManifest(view)).toBeUndefined();
        expect(await store.listBatchVersions(view)).toEqual([1]);
        const manifest = makeManifest(view, 1);
        await store.publishBatchVersion(manifest);
        expect(await store.readManifest(view)).toEqual(manifest);
        expect(await store.readBatchRows(view, 1)).toEqual(new RowModel().upsert(rowsOf(1, ['a', 'b'])).select());
      });

      it('should serve the manifest exactly as published', async () => {
        const first = makeManifest(view, 1, {
          horizon: [120, 0, 37, 9_007_199_254_740_991],
          publishedAt: 1_700_000_555_555,
          newestRecordAt: 1_700_000_444_444,
          stats: {
            rows: 1234,
            records: 56_789,
            durationMs: 3.5,
            phases: { read: 1, write: 2.5 },
            partitions: [0, 2],
            note: 'full rebuild',
          },
        });
        await store.publishBatchVersion(first);
        expect(await store.readManifest(view)).toEqual(first);
        const second: BatchManifest = { view, version: 2, horizon: [], publishedAt: 0, newestRecordAt: null };
        await store.publishBatchVersion(second);
        expect(await store.readManifest(view)).toEqual(second);
        expect(await store.readManifest(`${view}-none`)).toBeUndefined();
      });

      it('should publish a version that has no rows', async () => {
        await store.publishBatchVersion(makeManifest(view, 4));
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 4));
        expect(await store.readBatchRows(view, 4)).toEqual([]);
        expect(await store.listBatchVersions(view)).toEqual([4]);
        // Once superseded it holds nothing, so it is no longer listed.
        await store.publishBatchVersion(makeManifest(view, 5));
        expect(await store.listBatchVersions(view)).toEqual([5]);
      });

      it('should store no version for an empty batch of rows', async () => {
        await store.putBatchRows(view, 2, []);
        expect(await store.listBatchVersions(view)).toEqual([]);
        expect(await store.listViews()).not.toContain(view);
        await store.putBatchRows(view, 2, [{ key: 'k', windowStart: 0, state: 1 }]);
        await store.putBatchRows(view, 2, []);
        expect(await store.listBatchVersions(view)).toEqual([2]);
        expect(await store.readBatchRows(view, 2)).toEqual([{ key: 'k', windowStart: 0, state: 1 }]);
      });

      it('should upsert the rows of a version being built', async () => {
        const first = rowsOf(3, ['a', 'b', 'c']);
        const second = [
          { key: 'b', windowStart: MINUTE, state: 'replaced' },
          { key: 'z', windowStart: 0, state: 'added' },
        ];
        await store.putBatchRows(view, 3, scramble(first));
        await store.putBatchRows(view, 3, second);
        await store.putBatchRows(view, 3, second);
        expect(await store.readBatchRows(view, 3)).toEqual(new RowModel().upsert(first).upsert(second).select());
        // Other versions and views are separate tables.
        await store.putBatchRows(view, 4, [{ key: 'a', windowStart: 0, state: 'four' }]);
        expect(await store.readBatchRows(view, 4)).toEqual([{ key: 'a', windowStart: 0, state: 'four' }]);
        expect(await store.readBatchRows(`${view}-other`, 3)).toEqual([]);
        expect(await store.readBatchRows(view, 5)).toEqual([]);
      });

      it.each<[string, RowFilter]>([
        ['several keys, unknown ones ignored', { keys: ['c', 'zzz', 'a'] }],
        ['a window range, from inclusive and to exclusive', { windowFrom: MINUTE, windowTo: 2 * MINUTE }],
        ['keys and a window range', { keys: ['b'], windowFrom: 1, windowTo: 3 * MINUTE }],
        ['only a lower window bound', { windowFrom: 2 * MINUTE }],
        ['no filter', {}],
      ])('should read batch rows filtered by %s, ordered by key then window', async (_label, filter) => {
        const rows = rowsOf(1, ['c', 'a', 'b', 'd']);
        await store.putBatchRows(view, 1, scramble(rows));
        await store.publishBatchVersion(makeManifest(view, 1));
        expect(await store.readBatchRows(view, 1, filter)).toEqual(new RowModel().upsert(rows).select(filter));
      });

      it('should switch readers from the old version to the new at once', async () => {
        const oldKeys = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
        const newKeys = Array.from({ length: 45 }, (_, i) => `k${String(i).padStart(2, '0')}`);
        await store.putBatchRows(view, 1, rowsOf(1, oldKeys));
        await store.publishBatchVersion(makeManifest(view, 1));
        await store.putBatchRows(view, 2, rowsOf(2, newKeys));
        const expectedCount = new Map([
          [1, oldKeys.length * 3],
          [2, newKeys.length * 3],
        ]);
        let publishing = true;
        const problems: string[] = [];
        const versionsSeen = new Set<number>();
        const reader = async () => {
          let reads = 0;
          let readAfterPublish = false;
          while (publishing || !readAfterPublish || reads < 5) {
            reads++;
            await new Promise((resolve) => setImmediate(resolve));
            const afterPublish = !publishing;
            readAfterPublish ||= afterPublish;
            const manifest = await store.readManifest(view);
            if (!manifest) {
              problems.push('no manifest');
              continue;
            }
            versionsSeen.add(manifest.version);
            // A read that starts once the publish is acknowledged sees it.
            if (afterPublish && manifest.version !== 2) problems.push(`version ${manifest.version} after the publish`);
            if (JSON.stringify(manifest.horizon) !== JSON.stringify(makeManifest(view, manifest.version).horizon)) {
              problems.push(`version ${manifest.version} with horizon ${JSON.stringify(manifest.horizon)}`);
            }
            const rows = await store.readBatchRows(view, manifest.version);
            if (rows.length !== expectedCount.get(manifest.version)) problems.push(`version ${manifest.version}: ${rows.length} rows`);
            for (const row of rows) {
              const version = (row.state as { version: number }).version;
              if (version !== manifest.version) problems.push(`version ${manifest.version}: row ${row.key} of version ${version}`);
            }
          }
          return reads;
        };
        const readers = [reader(), reader(), reader()];
        await new Promise((resolve) => setImmediate(resolve));
        await store.publishBatchVersion(makeManifest(view, 2));
        publishing = false;
        await Promise.all(readers);
        expect(problems).toEqual([]);
        expect([...versionsSeen].sort()).toEqual(versionsSeen.has(1) ? [1, 2] : [2]);
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 2));
      });

      it('should refuse to publish a version at or below the serving one', async () => {
        await store.publishBatchVersion(makeManifest(view, 2));
        for (const version of [2, 1]) {
          const error = await store.publishBatchVersion(makeManifest(view, version, { horizon: [999] })).catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(ConflictError);
          expect(messageOf(error)).toContain(String(version));
        }
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 2));
        expect(await store.listBatchVersions(view)).toEqual([2]);
        await store.publishBatchVersion(makeManifest(view, 5));
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 5));
      });

      it('should keep versions moving forward when publishes race', async () => {
        const versions = [3, 1, 6, 2, 5, 4];
        const results = await Promise.allSettled(versions.map((version) => store.publishBatchVersion(makeManifest(view, version))));
        for (const result of results) {
          if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ConflictError);
        }
        // The highest version can never be refused, and nothing may take its place afterwards.
        expect(results[versions.indexOf(Math.max(...versions))]?.status).toBe('fulfilled');
        expect(await store.readManifest(view)).toEqual(makeManifest(view, Math.max(...versions)));
        await expect(store.publishBatchVersion(makeManifest(view, 2))).rejects.toBeInstanceOf(ConflictError);
      });

      it('should refuse rows for a version at or below the serving one', async () => {
        await store.putBatchRows(view, 3, rowsOf(3, ['a']));
        await store.publishBatchVersion(makeManifest(view, 3));
        for (const version of [3, 2, 1]) {
          const error = await store.putBatchRows(view, version, rowsOf(version, ['a', 'b'])).catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(ConflictError);
          expect(messageOf(error)).toContain(String(version));
        }
        expect(await store.readBatchRows(view, 3)).toEqual(new RowModel().upsert(rowsOf(3, ['a'])).select());
        expect(await store.readBatchRows(view, 2)).toEqual([]);
        expect(await store.listBatchVersions(view)).toEqual([3]);
        await store.putBatchRows(view, 4, rowsOf(4, ['a']));
        expect(await store.listBatchVersions(view)).toEqual([3, 4]);
      });

      it('should refuse to delete the serving version', async () => {
        await store.putBatchRows(view, 1, rowsOf(1, ['a', 'b']));
        await store.publishBatchVersion(makeManifest(view, 1));
        await expect(store.deleteBatchVersion(view, 1)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 1));
        expect(await store.readBatchRows(view, 1)).toEqual(new RowModel().upsert(rowsOf(1, ['a', 'b'])).select());
        expect(await store.listBatchVersions(view)).toEqual([1]);
      });

      it('should delete an old version and its rows only', async () => {
        await store.putBatchRows(view, 1, rowsOf(1, ['a', 'b']));
        await store.publishBatchVersion(makeManifest(view, 1));
        await store.putBatchRows(view, 2, rowsOf(2, ['a', 'c']));
        await store.publishBatchVersion(makeManifest(view, 2));
        await store.putBatchRows(view, 3, rowsOf(3, ['d']));
        await store.putBatchRows(`${view}-other`, 1, rowsOf(1, ['x']));
        expect(await store.listBatchVersions(view)).toEqual([1, 2, 3]);
        await store.deleteBatchVersion(view, 1);
        expect(await store.listBatchVersions(view)).toEqual([2, 3]);
        expect(await store.readBatchRows(view, 1)).toEqual([]);
        expect(await store.readBatchRows(view, 2)).toEqual(new RowModel().upsert(rowsOf(2, ['a', 'c'])).select());
        expect(await store.readBatchRows(view, 3)).toEqual(new RowModel().upsert(rowsOf(3, ['d'])).select());
        expect(await store.readBatchRows(`${view}-other`, 1)).toEqual(new RowModel().upsert(rowsOf(1, ['x'])).select());
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 2));
        // A staged version that is given up is deleted the same way.
        await store.deleteBatchVersion(view, 3);
        expect(await store.listBatchVersions(view)).toEqual([2]);
        expect(await store.readBatchRows(view, 3)).toEqual([]);
      });
    });

    describe('when listing views', () => {
      it('should list the views that hold a slice or a batch version, and no others', async () => {
        const suffixes = ['slice', 'staged', 'published', 'emptied', 'slice-gone', 'never'];
        const [withSlice, withStaged, withPublished, emptied, sliceGone, never] = suffixes.map((suffix) => `${view}-${suffix}`) as [
          string,
          string,
          string,
          string,
          string,
          string,
        ];
        await store.putSlice(makeSlice(withSlice, 0, 0, 1), []);
        await store.putBatchRows(withStaged, 1, [{ key: 'k', windowStart: 0, state: 1 }]);
        await store.publishBatchVersion(makeManifest(withPublished, 1));
        await store.putSlice(makeSlice(emptied, 3, 0, 1), [{ key: 'k', windowStart: 0, state: 1 }]);
        await store.putBatchRows(emptied, 2, [{ key: 'k', windowStart: 0, state: 1 }]);
        await store.deleteSlices([ref(3, 0, emptied)]);
        await store.deleteBatchVersion(emptied, 2);
        await store.putSlice(makeSlice(sliceGone, 0, 0, 1), [{ key: 'k', windowStart: 0, state: 1 }]);
        await store.deleteSlices([ref(0, 0, sliceGone)]);
        await store.putBatchRows(never, 1, []);
        const listed = await store.listViews();
        expect(listed).toEqual(expect.arrayContaining([withSlice, withStaged, withPublished]));
        expect(listed).not.toContain(emptied);
        expect(listed).not.toContain(sliceGone);
        expect(listed).not.toContain(never);
        expect(new Set(listed).size).toBe(listed.length);
      });
    });

    describe('when given invalid input', () => {
      const other = () => `${view}-b`;

      beforeEach(async () => {
        await store.putSlice(makeSlice(view, 0, 0, 10, { newestRecordAt: 5 }), [{ key: 'a', windowStart: 0, state: { n: 1 } }]);
        await store.putSlice(makeSlice(view, 1, 5, 8), [{ key: 'b', windowStart: MINUTE, state: [1, 2] }]);
        await store.putBatchRows(view, 1, [{ key: 'a', windowStart: 0, state: 'v1' }]);
        await store.publishBatchVersion(makeManifest(view, 1));
        await store.putBatchRows(view, 2, [{ key: 'a', windowStart: 0, state: 'v2' }]);
        await store.putSlice(makeSlice(other(), 0, 0, 3), [{ key: 'c', windowStart: 0, state: null }]);
      });

      /** Runs `attempt`, which must fail with InvalidArgumentError naming `bad`, and checks nothing observable changed. */
      async function expectRefused(attempt: () => Promise<unknown>, bad: string): Promise<void> {
        const before = await readContent(store, [view, other()]);
        const error = await attempt().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(messageOf(error)).toContain(bad);
        expect(await readContent(store, [view, other()])).toEqual(before);
      }

      it.each(['', 'has space', '../x', 'x'.repeat(300), 'a/b', '.hidden', 'naïve'])('should refuse the view name %j', async (name) => {
        const bad = JSON.stringify(name);
        await expectRefused(() => store.putSlice(makeSlice(name, 0, 0, 1), [{ key: 'k', windowStart: 0, state: 1 }]), bad);
        await expectRefused(() => store.putBatchRows(name, 1, [{ key: 'k', windowStart: 0, state: 1 }]), bad);
        await expectRefused(() => store.publishBatchVersion(makeManifest(name, 1)), bad);
        await expectRefused(() => store.deleteSlices([ref(0, 0), ref(0, 0, name)]), bad);
        await expectRefused(() => store.deleteBatchVersion(name, 1), bad);
        await expectRefused(() => store.readSlice(ref(0, 0, name)), bad);
        await expectRefused(() => store.listSlices(name), bad);
        await expectRefused(() => store.readManifest(name), bad);
        await expectRefused(() => store.readBatchRows(name, 1), bad);
        await expectRefused(() => store.listBatchVersions(name), bad);
        expect(await store.listViews()).not.toContain(name);
      });

      it.each<[keyof SliceRef & string, unknown]>([
        ['partition', -1],
        ['partition', 1.5],
        ['partition', Number.NaN],
        ['partition', '0'],
        ['start', -3],
        ['start', 2.5],
        ['start', null],
      ])('should refuse a slice whose %s is %j', async (field, value) => {
        const bad = String(JSON.stringify(value));
        const slice = { ...makeSlice(view, 0, 0, 10), [field]: value } as Slice;
        await expectRefused(() => store.putSlice(slice, [{ key: 'a', windowStart: 0, state: 'changed' }]), bad);
        await expectRefused(() => store.readSlice({ view, partition: 0, start: 0, [field]: value } as SliceRef), bad);
        await expectRefused(() => store.deleteSlices([ref(0, 0), { view, partition: 1, start: 5, [field]: value } as SliceRef]), bad);
      });

      it.each([-1, 7.25, Number.NaN])('should refuse a slice ending at %j', async (end) => {
        const rows = [{ key: 'a', windowStart: 0, state: 'changed' }];
        await expectRefused(() => store.putSlice(makeSlice(view, 0, 0, end), rows), String(JSON.stringify(end)));
      });

      it('should refuse a slice that ends before it starts', async () => {
        await expectRefused(() => store.putSlice(makeSlice(view, 1, 5, 4), [{ key: 'b', windowStart: MINUTE, state: 'changed' }]), '4');
        await expectRefused(() => store.putSlice(makeSlice(view, 2, 50, 0), []), '50');
      });

      const badWindows = [1.5, Number.NaN, '60000', null, Number.MAX_VALUE];
      it.each(badWindows)('should refuse rows whose windowStart is %j, writing none of them', async (windowStart) => {
        const bad = String(JSON.stringify(windowStart));
        const rows = [
          { key: 'a', windowStart: 0, state: 'changed' },
          { key: 'z', windowStart: windowStart as number, state: 'bad' },
        ];
        await expectRefused(() => store.putSlice(makeSlice(view, 0, 0, 20), rows), bad);
        await expectRefused(() => store.putBatchRows(view, 2, rows), bad);
        await expectRefused(() => store.putBatchRows(view, 3, rows), bad);
      });

      it.each([0, 1.5, -2, Number.NaN])('should refuse the batch version %j', async (version) => {
        const bad = String(JSON.stringify(version));
        await expectRefused(() => store.putBatchRows(view, version, [{ key: 'a', windowStart: 0, state: 'x' }]), bad);
        await expectRefused(() => store.publishBatchVersion(makeManifest(view, version)), bad);
        await expectRefused(() => store.readBatchRows(view, version), bad);
        await expectRefused(() => store.deleteBatchVersion(view, version), bad);
      });

      it.each<[string, Partial<BatchManifest>, string]>([
        ['a negative horizon entry', { horizon: [10, -5, 3] }, '-5'],
        ['a fractional horizon entry', { horizon: [10.5] }, '10.5'],
        ['a negative publishedAt', { publishedAt: -17 }, '-17'],
        ['a fractional newestRecordAt', { newestRecordAt: 3.25 }, '3.25'],
      ])('should refuse a manifest with %s', async (_label, change, bad) => {
        await expectRefused(() => store.publishBatchVersion(makeManifest(view, 2, change)), bad);
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 1));
      });

      it('should refuse a slice whose newestRecordAt is negative', async () => {
        await expectRefused(() => store.putSlice(makeSlice(view, 0, 0, 12, { newestRecordAt: -8 }), []), '-8');
      });
    });

    describe('when reopened', () => {
      it('should still hold every slice, row, manifest and staged version', async () => {
        const other = `${view}-b`;
        const sliceModels = new Map<string, { slice: Slice; rows: RowModel }>();
        const putSlice = async (slice: Slice, rows: ViewRow[]) => {
          await store.putSlice(slice, rows);
          const key = `${slice.view}/${slice.partition}/${slice.start}`;
          const model = sliceModels.get(key)?.rows ?? new RowModel();
          sliceModels.set(key, { slice, rows: model.upsert(rows) });
        };
        const rows = (tag: string, count: number, window = 0): ViewRow[] =>
          Array.from({ length: count }, (_, i) => ({
            key: `k${String(i).padStart(3, '0')}`,
            windowStart: window,
            state: { tag, i, deep: [{ i }] },
          }));

        await putSlice(makeSlice(view, 0, 0, 10), rows('s00-a', 50));
        await putSlice(makeSlice(view, 0, 0, 20, { newestRecordAt: 777 }), rows('s00-b', 20));
        await putSlice(makeSlice(view, 0, 0, 25, { newestRecordAt: 778 }), rows('s00-c', 10, MINUTE));
        await putSlice(makeSlice(view, 0, 25, 30, { closed: true, newestRecordAt: 900 }), rows('s025', 5));
        await putSlice(makeSlice(view, 3, 100, 100), []);
        await putSlice(makeSlice(other, 1, 0, 4), rows('other', 3));
        await putSlice(makeSlice(view, 2, 0, 9), rows('gone', 3));
        await store.deleteSlices([ref(2, 0)]);
        sliceModels.delete(`${view}/2/0`);

        await store.putBatchRows(view, 1, rows('v1', 30));
        await store.publishBatchVersion(makeManifest(view, 1));
        await store.putBatchRows(view, 2, rows('v2', 40));
        await store.putBatchRows(view, 2, rows('v2-bis', 10, MINUTE));
        const manifest2 = makeManifest(view, 2, { newestRecordAt: 4242, stats: { rows: 50, took: { ms: 12 } } });
        await store.publishBatchVersion(manifest2);
        await store.deleteBatchVersion(view, 1);
        await store.putBatchRows(view, 3, rows('v3-staged', 7));
        await store.putBatchRows(other, 5, rows('other-staged', 2));

        const expected = {
          listed: [view, other],
          views: {
            [view]: {
              slices: [...sliceModels.values()]
                .filter(({ slice }) => slice.view === view)
                .sort((a, b) => a.slice.partition - b.slice.partition || a.slice.start - b.slice.start)
                .map(({ slice, rows: model }) => ({ slice, rows: model.select() })),
              manifest: manifest2,
              versions: [
                { version: 2, rows: new RowModel().upsert(rows('v2', 40)).upsert(rows('v2-bis', 10, MINUTE)).select() },
                { version: 3, rows: new RowModel().upsert(rows('v3-staged', 7)).select() },
              ],
            },
            [other]: {
              slices: [{ slice: makeSlice(other, 1, 0, 4), rows: new RowModel().upsert(rows('other', 3)).select() }],
              manifest: undefined,
              versions: [{ version: 5, rows: new RowModel().upsert(rows('other-staged', 2)).select() }],
            },
          },
        };
        const before = await readContent(store, [view, other]);
        expect(before).toEqual(expected);

        await store.close();
        store = await fixture.open();
        expect(await readContent(store, [view, other])).toEqual(expected);

        // The serving version survived: older ones are still refused, newer ones accepted.
        await expect(store.publishBatchVersion(makeManifest(view, 2))).rejects.toBeInstanceOf(ConflictError);
        await expect(store.putBatchRows(view, 2, rows('late', 1))).rejects.toBeInstanceOf(ConflictError);
        await store.publishBatchVersion(makeManifest(view, 3));
        await putSlice(makeSlice(view, 0, 0, 26), rows('after', 1, 2 * MINUTE));
        expect(await store.readManifest(view)).toEqual(makeManifest(view, 3));
        expect(await store.readSlice(ref(0, 0))).toEqual({
          slice: makeSlice(view, 0, 0, 26),
          rows: sliceModels.get(`${view}/0/0`)!.rows.select(),
        });
      });

      it('should keep every write of a concurrent burst made just before closing', async () => {
        const writes = Array.from({ length: 10 }, (_, i) =>
          store.putSlice(makeSlice(view, i, 0, i + 1), [{ key: 'k', windowStart: 0, state: i as JsonValue }]),
        );
        await Promise.all(writes);
        await store.close();
        store = await fixture.open();
        const slices = await store.listSlices(view);
        expect(slices.map((slice) => slice.partition)).toEqual(Array.from({ length: 10 }, (_, i) => i));
        for (const slice of slices) {
          expect((await store.readSlice(slice))?.rows).toEqual([{ key: 'k', windowStart: 0, state: slice.partition }]);
        }
      });
    });
  });
}
