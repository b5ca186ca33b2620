/**
 * Watermarks: a window's state is dropped once (max event time seen minus the delay) passes its end;
 * later records for it are dropped and counted (in the progress object and the metrics registry). The
 * expectation is a separate simulation of that rule over plain counts.
 */
import { describe, expect, it } from 'vitest';
import { F, Trigger, readStream, type OutputRow } from '../src/index.js';
import { Metrics } from '@lambda/core';
import { BASE, MINUTE, TICK_SCHEMA, canonical, jsonQueue, runAvailable, type Tick } from './structured-helpers.js';

const { count, sum, window } = F;
const DELAY = MINUTE;

const tick = (symbol: string, at: number, price = 1): Tick => ({ symbol, price, trader: 't', ts: BASE + at });

/** Out-of-order ticks; batches 3 and 4 hold records for windows that closed before the batch ahead of them. */
const BATCHES: Tick[][] = [
  [tick('A', 10_000), tick('B', 50_000), tick('A', 90_000)],
  [tick('A', 200_000, 2), tick('B', 70_000, 3)],
  [tick('A', 20_000, 5), tick('B', 130_000, 7), tick('A', 250_000)],
  [tick('B', 100_000), tick('A', 330_000, 4), tick('A', 245_000, 2)],
  [tick('B', 150_000), tick('A', 400_000, 3)],
];

interface Simulated {
  outputs: { update: OutputRow[]; append: OutputRow[] }[];
  dropped: number[];
  stateSizes: number[];
  watermarks: number[];
}

/**
 * Spark's rule (3.5 and later, one stateful operator), counted by hand: batch n closes the windows that
 * end at or before the watermark as of batch n-1's end, and drops records only for windows closed
 * before that (the watermark batch n-1 closed against). A last batch without data closes what the last
 * batch's watermark passed. The update output is the rows the batch touched, evicted or not.
 */
function simulate(batches: readonly Tick[][]): Simulated {
  const state = new Map<string, { start: number; symbol: string; n: number; total: number }>();
  let maxSeen = -Infinity;
  let watermark = -Infinity;
  let late = -Infinity;
  const result: Simulated = { outputs: [], dropped: [], stateSizes: [], watermarks: [] };
  const run = (batch: readonly Tick[]) => {
    let dropped = 0;
    const touched = new Set<string>();
    for (const t of batch) {
      maxSeen = Math.max(maxSeen, t.ts);
      const start = t.ts - (t.ts % MINUTE);
      if (start + MINUTE <= late) {
        dropped++;
        continue;
      }
      const id = `${start}/${t.symbol}`;
      const entry = state.get(id) ?? { start, symbol: t.symbol, n: 0, total: 0 };
      entry.n++;
      entry.total += t.price;
      state.set(id, entry);
      touched.add(id);
    }
    const row = (id: string): OutputRow => {
      const e = state.get(id)!;
      return { window: { start: e.start, end: e.start + MINUTE }, symbol: e.symbol, n: e.n, total: e.total };
    };
    const closed = [...state.keys()].filter((id) => state.get(id)!.start + MINUTE <= watermark);
    result.outputs.push({ update: [...touched].map(row), append: closed.map(row) });
    for (const id of closed) state.delete(id);
    late = watermark;
    watermark = Math.max(watermark, maxSeen - DELAY);
    result.dropped.push(dropped);
    result.stateSizes.push(state.size);
    result.watermarks.push(watermark);
  };
  for (const batch of batches) run(batch);
  if (watermark !== late) run([]);
  return result;
}

const frame = () =>
  readStream
    .source(jsonQueue(BATCHES), { format: 'json', schema: TICK_SCHEMA })
    .withWatermark('ts', '1 minute')
    .groupBy(window('ts', '1 minute'), 'symbol')
    .agg(count().as('n'), sum('price').as('total'));

describe('structured watermarks', () => {
  const expected = simulate(BATCHES);

  it('should have test data with late records in more than one batch, and a batch without data at the end', () => {
    expect(expected.dropped.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    expect(expected.outputs).toHaveLength(BATCHES.length + 1);
  });

  describe.each(['update', 'append'] as const)('when late records arrive in %s mode', (mode) => {
    it('should drop and count them, evict closed windows, and output what the rule says', async () => {
      const { batches, query } = await runAvailable(frame(), mode);
      expect(batches.map(canonical)).toEqual(expected.outputs.map((output) => canonical(output[mode])));
      const progress = query.recentProgress;
      expect(progress.map((p) => p.stateOperator!.numRowsDroppedByWatermark)).toEqual(expected.dropped);
      expect(progress.map((p) => p.stateOperator!.numRowsTotal)).toEqual(expected.stateSizes);
      expect(progress.map((p) => p.watermark)).toEqual(expected.watermarks.map((w) => new Date(w).toISOString()));
      expect(query.status.totals.rowsDroppedByWatermark).toBe(expected.dropped.reduce((a, b) => a + b, 0));
    });
  });

  describe('when a metrics registry is given', () => {
    it('should count the dropped rows in lambda_structured_rows_dropped_by_watermark_total', async () => {
      const metrics = new Metrics();
      const query = await frame().writeStream.outputMode('update').foreachBatch(() => undefined).queryName('late').trigger(Trigger.availableNow()).runtime({ metrics }).start();
      await query.awaitTermination();
      const text = await metrics.render();
      const total = expected.dropped.reduce((a, b) => a + b, 0);
      expect(text).toContain(`lambda_structured_rows_dropped_by_watermark_total{query="late"} ${total}`);
      expect(text).toContain(`lambda_structured_input_rows_total{query="late"} ${BATCHES.flat().length}`);
    });
  });

  describe('when the query is in complete mode', () => {
    it('should keep every window and drop nothing, since the whole table is output', async () => {
      const { batches, query } = await runAvailable(frame(), 'complete');
      const counts = new Map<string, number>();
      for (const t of BATCHES.flat()) {
        const id = `${t.ts - (t.ts % MINUTE)}/${t.symbol}`;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      expect(batches.at(-1)!.map((row) => `${(row.window as { start: number }).start}/${row.symbol as string}`).sort()).toEqual([...counts.keys()].sort());
      expect(query.status.totals.rowsDroppedByWatermark).toBe(0);
    });
  });
});
