/**
 * The reader's answer cache: an answer is served again only while the view's shape (its batch version
 * and its live slices' edges) is the one it was computed for, so a cached answer is never stale.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EmbeddedViewStore, seededRandom } from '@lambda/core';
import { answerJson } from '../src/http/answer-json.js';
import { MergedViewReader, type MergedAnswer } from '../src/index.js';
import { BASE, MINUTE, URLS, VIEW, generateRecords, openTestStore, publishBatch, putSlice, testCatalog } from './helpers.js';

const catalog = testCatalog();
const records = generateRecords(seededRandom(7), [80, 80]);

/** An answer without what may differ between a cached and a fresh read of the same data. */
const comparable = ({ provenance, ...rest }: MergedAnswer) => ({ ...rest, provenance: { ...provenance, attempts: undefined, freshnessMs: undefined } });

describe('the answer cache', () => {
  let store: EmbeddedViewStore;
  let close: () => Promise<void>;
  let now: number;
  let reader: MergedViewReader;
  let uncached: MergedViewReader;

  beforeEach(async () => {
    ({ store, close } = await openTestStore());
    now = BASE + 30 * MINUTE;
    reader = new MergedViewReader(store, catalog, { now: () => now });
    uncached = new MergedViewReader(store, catalog, { now: () => now, cacheAnswers: false });
    await publishBatch(store, records, 1, [20, 20]);
    await putSlice(store, records, { partition: 0, start: 20, end: 40, closed: false });
    await putSlice(store, records, { partition: 1, start: 20, end: 30, closed: false });
  });
  afterEach(() => close());

  describe('when nothing changed', () => {
    it('should serve the answer again without reading rows, with its freshness as of now', async () => {
      const first = await reader.read(VIEW, { keys: [URLS[0]!, URLS[1]!] });
      expect(first.provenance.attempts).toBe(1);
      now += 5000;
      const again = await reader.read(VIEW, { keys: [URLS[0]!, URLS[1]!] });
      expect(again.provenance.attempts).toBe(0);
      expect(comparable(again)).toEqual(comparable(first));
      expect(again.provenance.freshnessMs).toBe(first.provenance.freshnessMs! + 5000);
    });

    it('should keep apart answers to different queries', async () => {
      const a = await reader.read(VIEW, { keys: [URLS[0]!] });
      const b = await reader.read(VIEW, { keys: [URLS[1]!] });
      const windowed = await reader.read(VIEW, { keys: [URLS[0]!], from: BASE + 2 * MINUTE });
      expect((await reader.read(VIEW, { keys: [URLS[0]!] })).windows).toEqual(a.windows);
      expect((await reader.read(VIEW, { keys: [URLS[1]!] })).windows).toEqual(b.windows);
      expect((await reader.read(VIEW, { keys: [URLS[0]!], from: BASE + 2 * MINUTE })).windows).toEqual(windowed.windows);
      expect(windowed.windows.every((window) => window.windowStart >= BASE + 2 * MINUTE)).toBe(true);
    });
  });

  describe('when an answer is written as JSON', () => {
    it('should write exactly what JSON.stringify does, with the freshness of each serving', async () => {
      const query = { keys: [URLS[0]!, URLS[1]!], contributions: true };
      const first = await reader.read(VIEW, query);
      expect(answerJson(first)).toBe(JSON.stringify(first));
      now += 1234;
      const again = await reader.read(VIEW, query);
      expect(again.windows).toBe(first.windows); // the cached windows, whose text is reused
      expect(answerJson(again)).toBe(JSON.stringify(again));
      expect(JSON.parse(answerJson(again)).provenance.freshnessMs).toBe(first.provenance.freshnessMs! + 1234);
      const paged = await reader.read(VIEW, { ...query, limit: 1 });
      expect(paged.next).not.toBeNull();
      expect(answerJson(paged)).toBe(JSON.stringify(paged));
    });
  });

  describe('when the shape changes', () => {
    it('should read afresh after a slice grows', async () => {
      const before = await reader.read(VIEW, { keys: [...URLS] });
      await putSlice(store, records, { partition: 0, start: 20, end: 60, closed: false });
      const after = await reader.read(VIEW, { keys: [...URLS] });
      expect(after.provenance.attempts).toBe(1);
      expect(after.provenance.position).toEqual([60, 30]);
      expect(comparable(after)).toEqual(comparable(await uncached.read(VIEW, { keys: [...URLS] })));
      expect(after).not.toEqual(before);
    });

    it('should read afresh after a batch version is published', async () => {
      await reader.read(VIEW, { keys: [...URLS] });
      await publishBatch(store, records, 2, [40, 30]);
      const after = await reader.read(VIEW, { keys: [...URLS] });
      expect(after.provenance.batch?.version).toBe(2);
      expect(comparable(after)).toEqual(comparable(await uncached.read(VIEW, { keys: [...URLS] })));
    });
  });

  it('should never serve a stale answer, whatever writes come between reads', async () => {
    // Writes grow the open slices, cut them, publish versions over them and delete covered ones; after
    // each, the cached reader answers as a reader without a cache does.
    type Step = { kind: 'grow'; partition: number; by: number } | { kind: 'cut'; partition: number } | { kind: 'publish' } | { kind: 'read'; key: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('grow' as const), partition: fc.integer({ min: 0, max: 1 }), by: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('cut' as const), partition: fc.integer({ min: 0, max: 1 }) }),
      fc.constant({ kind: 'publish' as const }),
      fc.record({ kind: fc.constant('read' as const), key: fc.integer({ min: 0, max: URLS.length - 1 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
        // A fresh store per run, set up as in beforeEach.
        const fresh = await openTestStore();
        const store = fresh.store;
        const reader = new MergedViewReader(store, catalog, { now: () => now });
        const uncached = new MergedViewReader(store, catalog, { now: () => now, cacheAnswers: false });
        await publishBatch(store, records, 1, [20, 20]);
        await putSlice(store, records, { partition: 0, start: 20, end: 40, closed: false });
        await putSlice(store, records, { partition: 1, start: 20, end: 30, closed: false });
        // Each partition: the open slice's start and end.
        const open = [
          { start: 20, end: 40 },
          { start: 20, end: 30 },
        ];
        let version = 1;
        for (const s of steps) {
          if (s.kind === 'grow') {
            const slice = open[s.partition]!;
            slice.end = Math.min(80, slice.end + s.by);
            await putSlice(store, records, { partition: s.partition, ...slice, closed: false });
          } else if (s.kind === 'cut') {
            const slice = open[s.partition]!;
            if (slice.end === slice.start) continue;
            await putSlice(store, records, { partition: s.partition, ...slice, closed: true });
            open[s.partition] = { start: slice.end, end: slice.end };
          } else if (s.kind === 'publish') {
            // A horizon at each partition's open slice start: a slice edge, as the batch layer picks.
            const horizon = open.map((slice) => slice.start);
            const serving = (await store.readManifest(VIEW))!.horizon;
            if (horizon.every((offset, i) => offset === serving[i])) continue;
            await publishBatch(store, records, ++version, horizon);
            const covered = (await store.listSlices(VIEW)).filter((slice) => slice.closed && slice.end <= horizon[slice.partition]!);
            await store.deleteSlices(covered);
          } else {
            const query = { keys: [URLS[s.key]!, URLS[(s.key + 1) % URLS.length]!] };
            expect(comparable(await reader.read(VIEW, query))).toEqual(comparable(await uncached.read(VIEW, query)));
          }
        }
        await fresh.close();
      }),
      { numRuns: 40, seed: 11 },
    );
  });
});
