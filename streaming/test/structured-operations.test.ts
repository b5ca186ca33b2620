/**
 * Every structured operation against an expectation computed here, in plain JS, from the same input:
 * select / where / withColumn / explode, groupBy with tumbling and sliding event-time windows and every
 * aggregate (recomputed from scratch over everything seen so far after each batch), the three output
 * modes batch by batch, and the steps allowed after an aggregation.
 */
import { describe, expect, it } from 'vitest';
import { F, QueueSource, readStream, type OutputRow } from '../src/index.js';
import { BASE, MINUTE, TICK_SCHEMA, canonical, jsonQueue, randomTicks, runAvailable, type Tick } from './structured-helpers.js';

const { approx_count_distinct, avg, col, count, desc, explode, expr, max, min, split, sum, window } = F;

interface Group {
  windowStart: number;
  symbol: string;
  ticks: Tick[];
}

/** From scratch: each tick in every window [start, start + size) holding it, start a multiple of the slide. */
function recompute(ticks: readonly Tick[], sizeMs: number, slideMs: number): Group[] {
  const groups = new Map<string, Group>();
  for (const tick of ticks) {
    for (let start = Math.floor(tick.ts / slideMs) * slideMs; start > tick.ts - sizeMs; start -= slideMs) {
      const id = `${start}/${tick.symbol}`;
      if (!groups.has(id)) groups.set(id, { windowStart: start, symbol: tick.symbol, ticks: [] });
      groups.get(id)!.ticks.push(tick);
    }
  }
  return [...groups.values()];
}

function expectedRow(group: Group, sizeMs: number): OutputRow {
  const prices = group.ticks.map((tick) => tick.price);
  const total = prices.reduce((a, b) => a + b, 0);
  return {
    window: { start: group.windowStart, end: group.windowStart + sizeMs },
    symbol: group.symbol,
    trades: group.ticks.length,
    volume: total,
    mean: total / prices.length,
    low: Math.min(...prices),
    high: Math.max(...prices),
    // HyperLogLog with 4096 registers counts a dozen values exactly (linear counting, no collisions here).
    traders: new Set(group.ticks.map((tick) => tick.trader)).size,
  };
}

const aggregates = [
  count().as('trades'),
  sum('price').as('volume'),
  avg('price').as('mean'),
  min('price').as('low'),
  max('price').as('high'),
  approx_count_distinct('trader').as('traders'),
];

describe('structured per-row operations', () => {
  describe('when a query selects, filters and derives columns', () => {
    it('should output each input row transformed as computed independently, batch by batch', async () => {
      const batches = randomTicks(11, 3, 25);
      const frame = readStream
        .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
        .where('price >= 150')
        .withColumn('cents', 'floor(price * 100)')
        .select('symbol', col('cents'), expr("lower(symbol) || '@' || trader").as('tag'))
        .where("symbol != 'GOOG'");
      expect(frame.schema).toEqual([
        { name: 'symbol', type: 'string' },
        { name: 'cents', type: 'number' },
        { name: 'tag', type: 'string' },
      ]);
      const { batches: output } = await runAvailable(frame, 'append');
      const expected = batches.map((batch) =>
        batch
          .filter((tick) => tick.price >= 150 && tick.symbol !== 'GOOG')
          .map((tick) => ({ symbol: tick.symbol, cents: Math.floor(tick.price * 100), tag: `${tick.symbol.toLowerCase()}@${tick.trader}` })),
      );
      expect(output).toEqual(expected);
      expect(expected.flat().length).toBeGreaterThan(10);
    });
  });

  describe('when a query explodes text lines into words', () => {
    it('should output one row per non-empty word', async () => {
      const lines = [['the cat sat', 'on  the mat'], ['', 'the end']];
      const frame = readStream.source(new QueueSource(lines), { format: 'text' }).select(explode(split('value', ' ')).as('word'));
      const { batches } = await runAvailable(frame, 'append');
      expect(batches).toEqual(lines.filter((batch) => batch.join('') !== '').map((batch) => batch.flatMap((line) => line.split(' ').filter(Boolean)).map((word) => ({ word }))));
    });
  });

  describe('when a query counts words in complete mode, filters the counts and sorts them', () => {
    it('should output the whole sorted table after every batch', async () => {
      const lines = [['a b a', 'c a'], ['b b d'], ['a d d d']];
      const frame = readStream
        .source(new QueueSource(lines), { format: 'text' })
        .select(explode(split('lower(value)', ' ')).as('word'))
        .groupBy('word')
        .count()
        .where('count >= 2')
        .orderBy(desc('count'), 'word');
      const { batches } = await runAvailable(frame, 'complete');
      const counts = new Map<string, number>();
      const expected = lines.map((batch) => {
        for (const word of batch.flatMap((line) => line.split(' '))) counts.set(word, (counts.get(word) ?? 0) + 1);
        return [...counts]
          .filter(([, n]) => n >= 2)
          .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
          .map(([word, n]) => ({ word, count: n }));
      });
      expect(batches).toEqual(expected);
    });
  });
});

describe('structured windowed aggregation', () => {
  describe.each([
    ['tumbling 1 minute', '1 minute', undefined, MINUTE, MINUTE],
    ['sliding 3 minutes every minute', '3 minutes', '1 minute', 3 * MINUTE, MINUTE],
    ['sliding 2 minutes every 45 seconds', '2 minutes', '45 seconds', 2 * MINUTE, 45_000],
  ] as const)('when ticks are aggregated per %s in complete mode', (_label, size, slide, sizeMs, slideMs) => {
    it('should equal a from-scratch recompute over every batch so far, after each batch', async () => {
      const batches = randomTicks(7, 4, 40);
      const frame = readStream
        .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
        .groupBy(window('ts', size, slide), 'symbol')
        .agg(...aggregates);
      const { batches: output } = await runAvailable(frame, 'complete');
      expect(output).toHaveLength(batches.length);
      batches.forEach((_, i) => {
        const expected = recompute(batches.slice(0, i + 1).flat(), sizeMs, slideMs).map((group) => expectedRow(group, sizeMs));
        expect(canonical(output[i]!)).toEqual(canonical(expected));
      });
    });
  });

  describe('when ticks are aggregated per minute in update mode', () => {
    it('should output, per batch, the rows the batch changed, with their values so far', async () => {
      const batches = randomTicks(21, 4, 12, 10);
      const frame = readStream
        .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
        .groupBy(window('ts', '1 minute'), 'symbol')
        .agg(...aggregates);
      const { batches: output } = await runAvailable(frame, 'update');
      batches.forEach((batch, i) => {
        const touched = new Set(batch.map((tick) => `${Math.floor(tick.ts / MINUTE) * MINUTE}/${tick.symbol}`));
        const expected = recompute(batches.slice(0, i + 1).flat(), MINUTE, MINUTE)
          .filter((group) => touched.has(`${group.windowStart}/${group.symbol}`))
          .map((group) => expectedRow(group, MINUTE));
        expect(canonical(output[i]!)).toEqual(canonical(expected));
      });
    });
  });

  describe('when ticks arriving in event-time order are aggregated in append mode with a watermark', () => {
    it('should output each window once, when the watermark passes its end, with its final values', async () => {
      // Event time rises batch by batch, so nothing is late and every window's values are all its ticks.
      const batches = randomTicks(5, 5, 10, 1).map((batch, i) => batch.map((tick) => ({ ...tick, ts: tick.ts + 2 * i * MINUTE })));
      const delay = 30_000;
      const frame = readStream
        .source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA })
        .withWatermark('ts', '30 seconds')
        .groupBy(window('ts', '1 minute'), 'symbol')
        .agg(...aggregates);
      const { batches: output, query } = await runAvailable(frame, 'append');
      const all = batches.flat();
      // Batch i closes against the watermark as of batch i-1's end (Spark's rule); a last batch without
      // data closes against the final one.
      let maxSeen = -Infinity;
      let watermark = -Infinity;
      const emitted = new Set<number>();
      expect(output).toHaveLength(batches.length + 1);
      [...batches, []].forEach((batch, i) => {
        const expected = recompute(all, MINUTE, MINUTE)
          .filter((group) => group.windowStart + MINUTE <= watermark && !emitted.has(group.windowStart))
          .map((group) => expectedRow(group, MINUTE));
        for (const row of expected) emitted.add((row.window as { start: number }).start);
        expect(canonical(output[i]!)).toEqual(canonical(expected));
        maxSeen = Math.max(maxSeen, ...batch.map((tick) => tick.ts));
        watermark = maxSeen - delay;
      });
      expect(emitted.size).toBeGreaterThan(3);
      expect(query.lastProgress!.watermark).toBe(new Date(maxSeen - delay).toISOString());
    });
  });

  describe('when aggregates are not named', () => {
    it("should name them as count, <function>_<column>", () => {
      const frame = readStream
        .source(jsonQueue([]), { format: 'json', schema: TICK_SCHEMA })
        .groupBy('symbol')
        .agg(count(), count('trader'), sum('price'), avg('price'), min('price'), max('price'), approx_count_distinct('trader'));
      expect(frame.schema.map((column) => column.name)).toEqual([
        'symbol',
        'count',
        'count_trader',
        'sum_price',
        'avg_price',
        'min_price',
        'max_price',
        'approx_count_distinct_trader',
      ]);
      expect(() => readStream.source(jsonQueue([]), { format: 'json', schema: TICK_SCHEMA }).groupBy('symbol').agg(sum('price * 2'))).toThrow(/\.as\('name'\)/);
    });
  });

  describe('when an aggregation has no key and no window', () => {
    it('should keep one global row', async () => {
      const batches = randomTicks(3, 2, 15);
      const frame = readStream.source(jsonQueue(batches), { format: 'json', schema: TICK_SCHEMA }).groupBy().agg(count().as('n'), max('event_time').as('latest'));
      const { batches: output } = await runAvailable(frame, 'complete');
      const seen = batches.flat();
      expect(output.at(-1)).toEqual([{ n: seen.length, latest: Math.max(...seen.map((tick) => tick.ts)) }]);
      expect(BASE).toBeLessThan(output.at(-1)![0]!.latest as number);
    });
  });
});

describe('structured OHLC bars (the stock example)', () => {
  describe('when open and close are taken as min and max of a (time in minute, cents) code', () => {
    it('should give the first and last price by event time of each minute, decoded after the aggregation', async () => {
      const CODE = 100_000_000;
      // Distinct event times in random arrival order; prices in cents.
      const ticks: Tick[] = randomTicks(17, 1, 120, 4)[0]!.map((tick, i) => ({ ...tick, ts: BASE + ((i * 7919) % 240) * 1000 + 7, price: Math.round(tick.price * 100 + 1) / 100 }));
      const frame = readStream
        .source(jsonQueue([ticks.slice(0, 60), ticks.slice(60)]), { format: 'json', schema: TICK_SCHEMA })
        .withColumn('time_price', `(event_time - floor(event_time / 60000) * 60000) * ${CODE} + floor(price * 100 + 0.5)`)
        .groupBy(window('ts', '1 minute'), 'symbol')
        .agg(min('time_price').as('open_code'), max('price').as('high'), min('price').as('low'), max('time_price').as('close_code'))
        .withColumn('open', `(open_code - floor(open_code / ${CODE}) * ${CODE}) / 100`)
        .withColumn('close', `(close_code - floor(close_code / ${CODE}) * ${CODE}) / 100`)
        .select('window', 'symbol', 'open', 'high', 'low', 'close');
      const { table } = await runAvailable(frame, 'complete');
      const expected = recompute(ticks, MINUTE, MINUTE).map((group) => {
        const byTime = [...group.ticks].sort((a, b) => a.ts - b.ts);
        const prices = byTime.map((tick) => tick.price);
        return {
          window: { start: group.windowStart, end: group.windowStart + MINUTE },
          symbol: group.symbol,
          open: byTime[0]!.price,
          high: Math.max(...prices),
          low: Math.min(...prices),
          close: byTime.at(-1)!.price,
        };
      });
      expect(canonical(table.rows())).toEqual(canonical(expected));
      expect(expected.some((bar) => bar.open !== bar.low && bar.close !== bar.high)).toBe(true);
    });
  });
});
