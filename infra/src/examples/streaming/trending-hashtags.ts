#!/usr/bin/env node
/**
 * Trending hashtags over a sliding window, in the DStream API: the top hashtags of the last 30 seconds,
 * every 10 seconds, with reduceByKeyAndWindow and its inverse function (each window is the previous one
 * plus the batches that entered, minus the batches that left, instead of a recount).
 *
 *   npm run example:trending-hashtags
 *
 * The tweets come from a seeded generator and batches are driven by the example itself (5 s of simulated
 * time each, as fast as they run), so every run prints the same windows. A hashtag bursts in the middle
 * of the run and fades again, which the trend follows.
 *
 * Options: --batches N (18), --seed N (42), --top N (5), --realtime (wait one batch interval between batches).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { QueueSource, StreamingContext } from '@lambda/streaming';
import { SeededRandom } from '@lambda/core';

const options = new Command()
  .name('trending-hashtags')
  .description('The top hashtags of a sliding 30 s window, every 10 s (reduceByKeyAndWindow with an inverse)')
  .option('--batches <n>', 'how many 5 s batches to run', (value) => Number(value), 18)
  .option('--seed <n>', 'the seed of the generated tweets', (value) => Number(value), 42)
  .option('--top <n>', 'how many hashtags each window prints', (value) => Number(value), 5)
  .option('--realtime', 'wait one batch interval between batches')
  .parse()
  .opts<{ batches: number; seed: number; top: number; realtime?: boolean }>();

const BATCH_INTERVAL_MS = 5000;
const STEADY = ['#typescript', '#streaming', '#lambda', '#kafka', '#duckdb', '#spark'];
const BURST = '#launchday';

/** Tweets of one batch: steady chatter, plus a burst of one hashtag between batches 6 and 11. */
function tweetsOf(batch: number, random: SeededRandom): string[] {
  const tweets: string[] = [];
  for (let i = 0; i < random.integer(8, 14); i++) {
    const tags = Array.from({ length: random.integer(1, 2) }, () => STEADY[random.weighted([6, 5, 4, 3, 2, 1])]!);
    tweets.push(`reading about ${tags.join(' ')} today`);
  }
  const burst = batch >= 6 && batch <= 11 ? 12 - Math.abs(8.5 - batch) * 3 : 0;
  for (let i = 0; i < burst; i++) tweets.push(`it is ${BURST}! ${random.pick(STEADY)}`);
  return tweets;
}

const random = new SeededRandom(options.seed);
const tweets = new QueueSource<string>();
for (let batch = 1; batch <= options.batches; batch++) tweets.push(tweetsOf(batch, random));

const context = await StreamingContext.create({ batchIntervalMs: BATCH_INTERVAL_MS, manualBatches: true, zeroTime: 0 });
context
  .queueStream(tweets)
  .flatMap((tweet) => tweet.split(/\s+/).filter((word) => word.startsWith('#')).map((tag) => tag.replace(/[^#\w]/g, '')))
  .map((tag): [string, number] => [tag, 1])
  .reduceByKeyAndWindow((a, b) => a + b, (a, b) => a - b, '30s', '10s')
  .transform((counts) => [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)))
  .pprint(options.top);

await context.start();
try {
  for (let batch = 1; batch <= options.batches; batch++) {
    await context.runBatch();
    if (options.realtime) await sleep(BATCH_INTERVAL_MS);
  }
} finally {
  await context.stop({ graceful: true });
}
