/**
 * `--peers spark`: the same work in Spark (PySpark's bundled Spark, `local[2]`, infra/spark/bench_peer.py)
 * as in figures 1 and 2: the benchmark's events as JSON lines through Structured Streaming (count per page
 * per minute, each micro-batch written to Parquet), and the batch count over the Parquet files of our lake
 * archive. Spark's start-up is reported apart, not hidden in either figure.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalLake, listArchiveFiles } from '@lambda/core';
import { PAGEVIEWS, SPARK_PYTHON, runSpark } from '../src/index.js';
import { PARTITIONS, type Dataset } from './dataset.js';
import { median, progress } from './progress.js';

export interface SparkPeerResult {
  startupMs: number;
  /** Events per second, start of the query to the last micro-batch written. */
  streamingRate: number;
  microBatches: number;
  /** The batch count over the archive's Parquet files, to its Parquet output. */
  batchMs: number;
  batchRows: number;
}

/** JSON-lines files of the events: this many, so the streaming query runs in as many micro-batches. */
export const SPARK_JSON_FILES = 20;

export async function measureSparkPeer(dataset: Dataset, options: { rounds: number }): Promise<SparkPeerResult> {
  if (!existsSync(SPARK_PYTHON)) throw new Error('--peers spark needs the PySpark environment: run infra/spark/setup.sh first');
  const jsonDir = join(dataset.directory, 'spark-json');
  const outDir = join(dataset.directory, 'spark-out');
  await mkdir(jsonDir, { recursive: true });
  const perFile = Math.ceil(dataset.events.length / SPARK_JSON_FILES);
  for (let i = 0; i < SPARK_JSON_FILES; i++) await writeFile(join(jsonDir, `events-${String(i).padStart(3, '0')}.json`), dataset.events.slice(i * perFile, (i + 1) * perFile).join('\n') + '\n');
  // The archive figure 2 wrote: the same Parquet files our recompute reads.
  const lake = await LocalLake.open({ directory: join(dataset.directory, 'lake') });
  const parquetFiles: string[] = [];
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (const file of await listArchiveFiles(lake, PAGEVIEWS, partition)) parquetFiles.push(lake.localPath(file.key));
    }
  } finally {
    await lake.close();
  }
  if (parquetFiles.length === 0) throw new Error('no archive to read: figure 2 runs before the Spark peer');
  const bar = progress('Spark: streaming and batch (local[2])', 1);
  try {
    const result = await runSpark<{ startupMs: number; streamingMs: number[]; batchMs: number[]; microBatches: number; batchRows: number }>(
      'bench_peer.py',
      { jsonDir, parquetFiles, outDir, rounds: options.rounds, filesPerTrigger: 1 },
      3_600_000,
    );
    bar.stop();
    return {
      startupMs: result.startupMs,
      streamingRate: dataset.events.length / (median(result.streamingMs) / 1000),
      microBatches: result.microBatches,
      batchMs: median(result.batchMs),
      batchRows: result.batchRows,
    };
  } finally {
    await rm(jsonDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
  }
}
