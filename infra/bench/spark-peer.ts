/**
 * `--peers spark`: the same work in Spark (PySpark's bundled Spark, `local[2]`, infra/spark/bench_peer.py)
 * as in figures 1 and 2: the benchmark's events as JSON lines through Structured Streaming (count per page
 * per minute, each micro-batch written to Parquet), and the batch count over the Parquet files of our lake
 * archive; and figure 3's, how soon an event is seen, with Spark's smallest workable trigger. Spark's
 * start-up is reported apart, not hidden in any figure.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PlatformError } from '@lambda/core';
import { SPARK_PYTHON, runSpark } from '../src/index.js';
import { DATASET_SEED, eventChunks, type Dataset } from './dataset.js';
import { median, percentile, progress } from './progress.js';

export interface SparkPeerResult {
  startupMs: number;
  /** Events per second, start of the query to the last micro-batch written. */
  streamingRate: number;
  microBatches: number;
  /** Events per second through the three demo views' aggregates Spark has (all but top-k), three queries at once. */
  demoRate: number;
  /** The batch count over the archive's Parquet files, to its Parquet output. */
  batchMs: number;
  batchRows: number;
}

/** JSON-lines files of the events: this many, so the streaming query runs in as many micro-batches. */
export const SPARK_JSON_FILES = 20;

/** `parquetFiles`: the archive figure 2 wrote and measured our recompute over. */
export async function measureSparkPeer(dataset: Dataset, parquetFiles: readonly string[], options: { rounds: number }): Promise<SparkPeerResult> {
  if (!existsSync(SPARK_PYTHON)) throw new PlatformError('--peers spark needs the PySpark environment: run infra/spark/setup.sh first');
  if (parquetFiles.length === 0) throw new PlatformError('no archive to read: figure 2 runs before the Spark peer');
  const jsonDir = join(dataset.directory, 'spark-json');
  const outDir = join(dataset.directory, 'spark-out');
  await mkdir(jsonDir, { recursive: true });
  // The log's events again (the generator is seeded), one file a micro-batch, never all in memory.
  let file = 0;
  for (const events of eventChunks(dataset.count, DATASET_SEED, Math.ceil(dataset.count / SPARK_JSON_FILES))) {
    await writeFile(join(jsonDir, `events-${String(file++).padStart(3, '0')}.json`), events.map((event) => event.value).join('\n') + '\n');
  }
  const bar = progress('Spark: streaming and batch (local[2])', 1);
  try {
    const result = await runSpark<{ startupMs: number; streamingMs: number[]; demoMs: number[]; batchMs: number[]; microBatches: number; batchRows: number }>(
      'bench_peer.py',
      { jsonDir, parquetFiles, outDir, rounds: options.rounds, filesPerTrigger: 1 },
      3_600_000,
    );
    bar.stop();
    return {
      startupMs: result.startupMs,
      streamingRate: dataset.count / (median(result.streamingMs) / 1000),
      microBatches: result.microBatches,
      demoRate: dataset.count / (median(result.demoMs) / 1000),
      batchMs: median(result.batchMs),
      batchRows: result.batchRows,
    };
  } finally {
    await rm(jsonDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
  }
}

export interface SparkLatencyResult {
  startupMs: number;
  markers: number;
  p50: number;
  p99: number;
}

/**
 * Spark's latency with its smallest workable trigger (micro-batches back to back): markers sent as text
 * lines over TCP to Spark's socket source, each timed from being sent to being in a micro-batch's output.
 */
export async function measureSparkLatency(options: { markers: number; markersPerSecond: number }): Promise<SparkLatencyResult> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let sending: NodeJS.Timeout | undefined;
  // Markers go out once Spark's query has connected, at a steady rate.
  server.on('connection', (socket) => {
    let id = 0;
    sending = setInterval(() => {
      if (id >= options.markers) return clearInterval(sending);
      socket.write(`${JSON.stringify({ id: id++, sentAt: Date.now() })}\n`);
    }, 1000 / options.markersPerSecond);
    socket.on('error', () => clearInterval(sending));
  });
  const bar = progress('Spark: latency (socket source, no trigger interval)', 1);
  try {
    const result = await runSpark<{ startupMs: number; latenciesMs: number[] }>('bench_latency.py', {
      host: '127.0.0.1',
      port,
      markers: options.markers,
      timeoutSeconds: 120 + options.markers / options.markersPerSecond,
    });
    bar.stop();
    if (result.latenciesMs.length < options.markers) throw new PlatformError(`Spark saw ${result.latenciesMs.length} of ${options.markers} markers`);
    return { startupMs: result.startupMs, markers: result.latenciesMs.length, p50: percentile(result.latenciesMs, 50), p99: percentile(result.latenciesMs, 99) };
  } finally {
    clearInterval(sending);
    server.close();
  }
}
