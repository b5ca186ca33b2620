#!/usr/bin/env node
/**
 * Per-minute OHLC bars (open, high, low, close, volume) from stock ticks, in the structured API: an
 * event-time window of one minute per symbol, a 10 s watermark, append mode, so each bar is printed
 * once, when it is final. Ticks arrive a little out of order; a few arrive so late that their minute
 * was already closed: the query drops and counts them.
 *
 *   npm run example:stock-ohlc
 *
 * The ticks come from a seeded random walk and are written to a topic of the embedded event log (in a
 * temporary directory); the query reads the topic, one batch per 20 s of simulated time, so every run
 * prints the same bars. At the end it prints the query's progress and the view definition the same
 * aggregation is as a platform view (write once).
 *
 * Open and close are the first and last price by event time. The view language has min/max but no
 * first/last, so each tick carries one number encoding (time within the minute, price in cents):
 * time * 1e8 + cents. The smallest code of a minute is its first tick, the largest its last; both
 * are exact integers (below 6e12 < 2^53), and the price is decoded after the aggregation.
 *
 * Options: --minutes N (5), --seed N (11), --symbols A,B,C (ACME,GLOBEX,INITECH).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { EmbeddedEventLog, SeededRandom } from '@lambda/core';
import { F, Trigger, readStream } from '@lambda/streaming';

const { count, max, min, sum, window } = F;

const options = new Command()
  .name('stock-ohlc')
  .description('Per-minute OHLC bars from seeded stock ticks (structured API, append mode with a watermark)')
  .option('--minutes <n>', 'how many minutes of ticks to generate', (value) => Number(value), 5)
  .option('--seed <n>', 'the seed of the random walk', (value) => Number(value), 11)
  .option('--symbols <list>', 'comma-separated symbols', 'ACME,GLOBEX,INITECH')
  .parse()
  .opts<{ minutes: number; seed: number; symbols: string }>();

/** 2024-06-11 09:30:00 UTC: the opening bell of the simulated session. */
const SESSION_START = Date.UTC(2024, 5, 11, 9, 30, 0);
const BATCH_MS = 20_000;

interface Tick {
  symbol: string;
  price: number;
  qty: number;
  ts: number;
}

/** A random walk per symbol, a tick every 1-4 s each; about 1 in 12 ticks is delayed 5-45 s. */
function generateTicks(random: SeededRandom, symbols: string[], minutes: number): { tick: Tick; arrival: number }[] {
  const ticks: { tick: Tick; arrival: number }[] = [];
  for (const symbol of symbols) {
    let price = random.integer(5000, 20000) / 100;
    for (let ts = SESSION_START + random.integer(0, 2000); ts < SESSION_START + minutes * 60_000; ts += random.integer(1000, 4000)) {
      price = Math.max(1, Math.round((price + (random.next() - 0.5) * 0.8) * 100) / 100);
      const delay = random.next() < 1 / 12 ? random.integer(5000, 45_000) : random.integer(0, 800);
      ticks.push({ tick: { symbol, price, qty: random.integer(1, 50) * 10, ts }, arrival: ts + delay });
    }
  }
  return ticks.sort((a, b) => a.arrival - b.arrival);
}

const directory = await mkdtemp(join(tmpdir(), 'lambda-stock-ohlc-'));
const log = await EmbeddedEventLog.open({ directory, fsync: 'never' });
try {
  await log.createTopic('ticks', { partitions: 1 });
  const ticks = readStream.topic({
    eventLog: log,
    topic: 'ticks',
    schema: { eventTimeField: 'ts', fields: { symbol: 'string', price: 'number', qty: 'number' } },
  });

  const CODE = 100_000_000; // cents stay below this: prices under $1,000,000
  const bars = ticks
    .withWatermark('ts', '10 seconds')
    .withColumn('time_price', `(event_time - floor(event_time / 60000) * 60000) * ${CODE} + floor(price * 100 + 0.5)`)
    .groupBy(window('ts', '1 minute'), 'symbol')
    .agg(
      min('time_price').as('open_code'),
      max('price').as('high'),
      min('price').as('low'),
      max('time_price').as('close_code'),
      sum('qty').as('volume'),
      count().as('ticks'),
    );
  const ohlc = bars
    .withColumn('open', `(open_code - floor(open_code / ${CODE}) * ${CODE}) / 100`)
    .withColumn('close', `(close_code - floor(close_code / ${CODE}) * ${CODE}) / 100`)
    .select('window', 'symbol', 'open', 'high', 'low', 'close', 'volume', 'ticks');

  const query = await ohlc.writeStream
    .outputMode('append')
    .format('console', { truncate: false, numRows: 50, showEmptyBatches: false })
    .queryName('stock_ohlc')
    .trigger(Trigger.processingTime('1 hour')) // batches are driven below, one per 20 s of simulated time
    .start();

  const random = new SeededRandom(options.seed);
  const generated = generateTicks(random, options.symbols.split(','), options.minutes);
  const sessionEnd = SESSION_START + options.minutes * 60_000 + 60_000;
  for (let batchEnd = SESSION_START + BATCH_MS; batchEnd <= sessionEnd; batchEnd += BATCH_MS) {
    const arrived = generated.filter(({ arrival }) => arrival >= batchEnd - BATCH_MS && arrival < batchEnd);
    if (arrived.length === 0) continue;
    await log.append('ticks', arrived.map(({ tick }) => ({ value: JSON.stringify(tick) })));
    await query.processAllAvailable();
  }
  await query.stop();

  const totals = query.status.totals;
  process.stdout.write(
    `Read ${totals.inputRows} ticks in ${query.recentProgress.length} batches; ${totals.rowsDroppedByWatermark} arrived after their minute was closed and were dropped.\n` +
      `Watermark at the end: ${query.lastProgress?.watermark}. The last minute stays open until later ticks move the watermark past it.\n\n`,
  );
  process.stdout.write(`The aggregation as a platform view (write once):\n${JSON.stringify(bars.toViewDefinition('stock_ohlc_1m'), null, 2)}\n`);
} finally {
  await log.close();
  await rm(directory, { recursive: true, force: true });
}
