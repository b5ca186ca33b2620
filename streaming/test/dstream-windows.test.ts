import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, manualContext, runBatches, sortedPairs } from './dstream-helpers.js';

const INTERVAL = 1000;

/** Random batches of small keyed integers, and a window length and slide in batches. */
const scenario = fc.record({
  batches: fc.array(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: -50, max: 50 })), { maxLength: 6 }), {
    minLength: 1,
    maxLength: 14,
  }),
  lengthBatches: fc.integer({ min: 1, max: 5 }),
  slideBatches: fc.integer({ min: 1, max: 5 }),
});

/** The records of the window ending at batch `index` (1-based), recomputed from the raw batches. */
function windowRecords<T>(batches: T[][], index: number, lengthBatches: number): T[] {
  return batches.slice(Math.max(0, index - lengthBatches), index).flat();
}

function sumByKey(records: [string, number][]): [string, number][] {
  const sums = new Map<string, number>();
  for (const [key, value] of records) sums.set(key, (sums.get(key) ?? 0) + value);
  return [...sums];
}

/** The batch indexes at which a window of this slide produces output. */
function slideIndexes(count: number, slideBatches: number): number[] {
  return Array.from({ length: count }, (_, i) => i + 1).filter((index) => index % slideBatches === 0);
}

describe('when window operations run over random batches', () => {
  it('should give every window the same result as a from-scratch recompute of its batches', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ batches, lengthBatches, slideBatches }) => {
        const length = lengthBatches * INTERVAL;
        const slide = slideBatches * INTERVAL;
        const { context } = await manualContext({ batchIntervalMs: INTERVAL });
        const input = context.queueStream(batches);
        const values = input.map(([, value]) => value);
        const results = {
          window: collect(input.window(length, slide)),
          countByWindow: collect(input.countByWindow(length, slide)),
          reduceByWindow: collect(values.reduceByWindow((a, b) => a + b, undefined, length, slide)),
          reduceByWindowInverse: collect(values.reduceByWindow((a, b) => a + b, (a, b) => a - b, length, slide)),
          byKey: collect(input.reduceByKeyAndWindow((a, b) => a + b, undefined, length, slide)),
          byKeyInverse: collect(input.reduceByKeyAndWindow((a, b) => a + b, (a, b) => a - b, length, slide)),
        };
        await context.start();
        await runBatches(context, batches.length);
        await context.stop();

        const outputs = slideIndexes(batches.length, slideBatches);
        for (const result of Object.values(results)) expect([...result.keys()]).toEqual(outputs);
        for (const index of outputs) {
          const records = windowRecords(batches, index, lengthBatches);
          const total = records.reduce((sum, [, value]) => sum + value, 0);
          expect(results.window.get(index)).toEqual(records);
          expect(results.countByWindow.get(index)).toEqual([records.length]);
          expect(results.reduceByWindow.get(index)).toEqual(records.length === 0 ? [] : [total]);
          expect(results.reduceByWindowInverse.get(index)).toEqual(records.length === 0 ? [] : [total]);
          expect(sortedPairs(results.byKey.get(index)!)).toEqual(sortedPairs(sumByKey(records)));
          expect(sortedPairs(results.byKeyInverse.get(index)!)).toEqual(sortedPairs(sumByKey(records)));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('should apply a non-commutative reduce in record order within each window', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ batches, lengthBatches, slideBatches }) => {
        const { context } = await manualContext({ batchIntervalMs: INTERVAL });
        const text = collect(
          context
            .queueStream(batches)
            .map(([key, value]): [string, string] => [key, String(value)])
            .reduceByKeyAndWindow((a, b) => `${a},${b}`, undefined, lengthBatches * INTERVAL, slideBatches * INTERVAL),
        );
        await context.start();
        await runBatches(context, batches.length);
        await context.stop();
        for (const index of slideIndexes(batches.length, slideBatches)) {
          const joined = new Map<string, string>();
          for (const [key, value] of windowRecords(batches, index, lengthBatches)) {
            joined.set(key, joined.has(key) ? `${joined.get(key)},${value}` : String(value));
          }
          expect(sortedPairs(text.get(index)!)).toEqual(sortedPairs([...joined]));
        }
      }),
      { numRuns: 30 },
    );
  });
});
