/**
 * Figure 2: batch recompute time (the view's generated SQL over the archive, rows written to the view
 * store, version published) against a hand-written DuckDB query computing the same counts over the same
 * Parquet files and reading them into JavaScript.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { Archiver, DuckDbEngine, Recomputer, queryRows } from '@lambda/batch-layer';
import { PlatformError, EmbeddedEventLog, EmbeddedViewStore, LocalLake, listArchiveFiles, silentLogger } from '@lambda/core';
import { PAGEVIEWS } from '../src/index.js';
import { PARTITIONS, countCatalog, type Dataset } from './dataset.js';
import { median, progress } from './progress.js';

export interface RecomputeResult {
  handWrittenMs: number;
  recomputeMs: number;
  /** Archiving the log into Parquet, once, before the rounds (not part of either figure). */
  archiveMs: number;
  rows: number;
  /** The archive's Parquet files, as local paths: what the Spark peer reads too. */
  files: string[];
}

const HAND_WRITTEN = `SELECT url, (_event_time // 60000) * 60000 AS minute, count(*) AS views
  FROM read_parquet($files) GROUP BY url, minute`;

/** Rounds of this figure: each takes milliseconds, so more of them steady the median. */
const MIN_ROUNDS = 7;

export async function measureRecompute(dataset: Dataset, options: { rounds: number }): Promise<RecomputeResult> {
  const log = await EmbeddedEventLog.open({ directory: dataset.logDirectory, fsync: 'never' });
  const lake = await LocalLake.open({ directory: join(dataset.directory, 'lake') });
  const engine = await DuckDbEngine.create();
  const catalog = countCatalog();
  const view = catalog.views.get('views_by_url')!;
  const logger = silentLogger();
  const archiver = new Archiver({ eventLog: log, lake, engine, workDirectory: join(dataset.directory, 'work'), logger });
  // One unmeasured round first: both sides then run with DuckDB's caches and the JIT warm.
  const rounds = Math.max(options.rounds, MIN_ROUNDS) + 1;
  const bar = progress('batch recompute against a hand-written query', rounds * 2 + 1);
  try {
    let started = performance.now();
    await archiver.archiveTopic(view.source);
    const archiveMs = performance.now() - started;
    bar.update(1);
    const ends = await log.endOffsets(PAGEVIEWS);
    const files: string[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (const file of await listArchiveFiles(lake, PAGEVIEWS, partition)) files.push(lake.localPath(file.key));
    }

    const handWritten: number[] = [];
    const recompute: number[] = [];
    let rows = 0;
    for (let round = 0; round < rounds; round++) {
      const measured = round > 0;
      started = performance.now();
      const result = await engine.withConnection((connection) => queryRows(connection, HAND_WRITTEN, { files: listValue(files) }, { files: LIST(VARCHAR) }));
      if (measured) handWritten.push(performance.now() - started);
      bar.update(2 + round * 2);

      // A fresh store each round, with the slices whose edges the horizon is chosen from.
      const storeDirectory = join(dataset.directory, `batch-views-${round}`);
      const store = await EmbeddedViewStore.open({ directory: storeDirectory, fsync: 'always' });
      for (let partition = 0; partition < PARTITIONS; partition++) {
        await store.putSlice({ view: view.name, partition, start: 0, end: ends[partition]!, closed: true, newestRecordAt: null }, []);
      }
      const recomputer = new Recomputer({ viewStore: store, lake, engine, archiver, catalog, logger });
      started = performance.now();
      const manifest = await recomputer.run(view.name);
      if (measured) recompute.push(performance.now() - started);
      if (!manifest || manifest.horizon.join() !== ends.join()) throw new PlatformError('the recompute did not cover the whole log');
      if (Number(manifest.stats?.rows) !== result.length) throw new PlatformError(`the recompute wrote ${manifest.stats?.rows} rows, the hand-written query found ${result.length}`);
      rows = result.length;
      await store.close();
      await rm(storeDirectory, { recursive: true, force: true });
      bar.update(3 + round * 2);
    }
    bar.stop();
    return { handWrittenMs: median(handWritten), recomputeMs: median(recompute), archiveMs, rows, files };
  } finally {
    engine.close();
    await lake.close();
    await log.close();
  }
}
