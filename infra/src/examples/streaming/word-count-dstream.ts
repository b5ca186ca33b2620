#!/usr/bin/env node
/**
 * The classic first streaming example, in the DStream API: count the words of the lines arriving on a
 * TCP socket, per micro-batch, and print each batch's counts.
 *
 *   nc -lk 9999                              # in one terminal: type lines here
 *   npm run example:word-count-dstream       # in another
 *
 * Without nc: `npm run example:word-count-dstream -- --generate` starts a built-in line server on the
 * port (seeded, so the lines are reproducible) and the stream connects to it the same way.
 *
 * Options: --host (127.0.0.1), --port (9999), --batch-interval ms (1000), --batches N (stop gracefully
 * after N batches; default: until Ctrl-C), --generate, --seed N (7), --lines-per-second N (5).
 */
import { Command } from 'commander';
import { StreamingContext } from '@lambda/streaming';
import { startLineServer } from './line-server.js';

const options = new Command()
  .name('word-count-dstream')
  .description('Word counts per micro-batch over a TCP socket of text lines (DStream API)')
  .option('--host <host>', 'where the line server listens', '127.0.0.1')
  .option('--port <port>', 'its port', (value) => Number(value), 9999)
  .option('--batch-interval <ms>', 'the micro-batch interval', (value) => Number(value), 1000)
  .option('--batches <n>', 'stop gracefully after this many batches', (value) => Number(value))
  .option('--generate', 'serve generated lines on the port instead of expecting nc there')
  .option('--seed <n>', 'the seed of the generated lines', (value) => Number(value), 7)
  .option('--lines-per-second <n>', 'how fast generated lines come', (value) => Number(value), 5)
  .parse()
  .opts<{ host: string; port: number; batchInterval: number; batches?: number; generate?: boolean; seed: number; linesPerSecond: number }>();

const stopGenerator = options.generate ? await startLineServer(options.host, options.port, options.seed, options.linesPerSecond) : undefined;
if (!options.generate) console.error(`Connecting to ${options.host}:${options.port}; start \`nc -lk ${options.port}\` there and type lines (or pass --generate).`);

const context = await StreamingContext.create({ batchIntervalMs: options.batchInterval });
const lines = context.socketTextStream(options.host, options.port);
const wordCounts = lines
  .flatMap((line) => line.split(/\s+/).filter((word) => word !== ''))
  .map((word): [string, number] => [word, 1])
  .reduceByKey((a, b) => a + b);
wordCounts.pprint();

let batches = 0;
wordCounts.foreachBatch(() => {
  batches++;
  if (options.batches !== undefined && batches === options.batches) void context.stop({ graceful: true });
});
process.once('SIGINT', () => void context.stop({ graceful: true }));

await context.start();
try {
  await context.awaitTermination();
} finally {
  await stopGenerator?.();
}
