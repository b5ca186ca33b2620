#!/usr/bin/env node
/**
 * The classic first streaming example, in the structured API: a running word count over the lines
 * arriving on a TCP socket, printed in complete mode (the whole result table after every batch) to the
 * console, most frequent words first.
 *
 *   nc -lk 9999                                  # in one terminal: type lines here
 *   npm run example:word-count-structured        # in another
 *
 * Without nc: `npm run example:word-count-structured -- --generate` starts a built-in line server on the
 * port (seeded, so the lines are reproducible) and the query connects to it the same way.
 *
 * Options: --host (127.0.0.1), --port (9999), --trigger ms (1000), --batches N (stop after N batches;
 * default: until Ctrl-C), --generate, --seed N (7), --lines-per-second N (5).
 */
import { Command } from 'commander';
import { ConsoleSink, F, Trigger, readStream, type SinkBatch, type StreamingQuery } from '@lambda/streaming';
import { startLineServer } from './line-server.js';

const { desc, explode, split } = F;

const options = new Command()
  .name('word-count-structured')
  .description('A running word count over a TCP socket of text lines (structured API, complete mode)')
  .option('--host <host>', 'where the line server listens', '127.0.0.1')
  .option('--port <port>', 'its port', (value) => Number(value), 9999)
  .option('--trigger <ms>', 'the processing-time trigger interval', (value) => Number(value), 1000)
  .option('--batches <n>', 'stop after this many batches', (value) => Number(value))
  .option('--generate', 'serve generated lines on the port instead of expecting nc there')
  .option('--seed <n>', 'the seed of the generated lines', (value) => Number(value), 7)
  .option('--lines-per-second <n>', 'how fast generated lines come', (value) => Number(value), 5)
  .parse()
  .opts<{ host: string; port: number; trigger: number; batches?: number; generate?: boolean; seed: number; linesPerSecond: number }>();

const stopGenerator = options.generate ? await startLineServer(options.host, options.port, options.seed, options.linesPerSecond) : undefined;

const lines = readStream.socket({ host: options.host, port: options.port });
const wordCounts = lines
  .select(explode(split('lower(value)', ' ')).as('word'))
  .groupBy('word')
  .count()
  .orderBy(desc('count'), 'word');

// The console sink, counting batches so --batches can stop the query after the one it just printed.
const consoleSink = new ConsoleSink();
let printed = 0;
// Filled in once start() returns; the first batch may already be running by then.
const started: { query?: StreamingQuery } = {};
const sink = {
  description: 'console',
  idempotent: false,
  async addBatch(batch: SinkBatch) {
    await consoleSink.addBatch(batch);
    if (options.batches !== undefined && ++printed === options.batches) void started.query?.stop();
  },
};

const running = await wordCounts.writeStream.outputMode('complete').sink(sink).trigger(Trigger.processingTime(options.trigger)).start();
started.query = running;
process.once('SIGINT', () => void running.stop());
try {
  await running.awaitTermination();
} finally {
  await stopGenerator?.();
}
