/**
 * Figure 2: batch recompute time (the view's generated SQL over the archive, rows written to the view
 * store, version published) against a hand-written DuckDB query computing the same counts over the same
 * Parquet files and reading them into JavaScript. Then the same for the three demo views (count, avg,
 * max, HyperLogLog, top-k) against hand-written queries with DuckDB's own aggregates, each side in a
 * process of its own (batch-demo-side.ts) so that each side's peak memory is its own.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { Archiver, DuckDbEngine, Recomputer, queryRows, type DuckDbOptions } from '@lambda/batch-layer';
import { PlatformError, EmbeddedEventLog, EmbeddedViewStore, LocalLake, listArchiveFiles, silentLogger } from '@lambda/core';
import { PAGEVIEWS } from '../src/index.js';
import { PARTITIONS, countCatalog, type Dataset } from './dataset.js';
import type { DemoSideInput, DemoSideResult } from './batch-demo-side.js';
import { median, progress } from './progress.js';

/** One side of the demo-view figure: medians over the rounds, peak RSS the largest of any round. */
export interface DemoSideFigure {
  /** Median wall time of the three views (recompute and publish) or of the hand-written queries. */
  ms: number;
  /** Events per second: the log's events over `ms`. */
  eventsPerSecond: number;
  /** Peak resident memory of the side's process (Node included), the largest over the rounds, bytes. */
  maxRssBytes: number;
  /** Median milliseconds per view (recompute) or per query (hand-written). */
  parts: Record<string, number>;
}

export interface DemoRecomputeResult {
  /** The three demo views (webAnalyticsCatalog) recomputed and published by the batch layer. */
  recompute: DemoSideFigure;
  /** Hand-written DuckDB queries computing the same answers (read into JS). */
  handWritten: DemoSideFigure;
  /** recompute.ms / handWritten.ms: the target is at most 1.5. */
  ratio: number;
  /** Events in the archive both sides read. */
  events: number;
  /** Rows of each view's answer (the same on both sides, checked). */
  rows: Record<string, number>;
  /** Measured rounds per side (each side a fresh process per round, alternating). */
  rounds: number;
  /** The DuckDB settings both sides ran with (empty: DuckDB's defaults, a thread per core, 80% of RAM). */
  duckdb: DuckDbOptions;
}

export interface RecomputeResult {
  handWrittenMs: number;
  recomputeMs: number;
  /** Archiving the log into Parquet, once, before the rounds (not part of either figure). */
  archiveMs: number;
  rows: number;
  /** The archive's Parquet files, as local paths: what the Spark peer reads too. */
  files: string[];
  /** The three demo views against hand-written DuckDB queries; absent with `demo: false`. */
  demo?: DemoRecomputeResult;
}

const HAND_WRITTEN = `SELECT url, (_event_time // 60000) * 60000 AS minute, count(*) AS views
  FROM read_parquet($files) GROUP BY url, minute`;

/** Rounds of this figure: each takes milliseconds, so more of them steady the median. */
const MIN_ROUNDS = 7;

export interface RecomputeOptions {
  rounds: number;
  /** Also measure the three demo views (default true). */
  demo?: boolean;
  /** Measured rounds of the demo views per side (default: `rounds`, at most 3; they take seconds to minutes each). */
  demoRounds?: number;
  /** DuckDB settings for the demo views' sides, the same on both (default: DuckDB's own). */
  duckdb?: DuckDbOptions;
}

export async function measureRecompute(dataset: Dataset, options: RecomputeOptions): Promise<RecomputeResult> {
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
  let count: RecomputeResult;
  let logEnds: number[];
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
    count = { handWrittenMs: median(handWritten), recomputeMs: median(recompute), archiveMs, rows, files };
    logEnds = ends;
  } finally {
    engine.close();
    await lake.close();
    await log.close();
  }
  if (options.demo === false) return count;
  // The side processes open the log and the lake themselves: this process has closed them (locks).
  const demoRounds = options.demoRounds ?? Math.min(Math.max(options.rounds, 1), 3);
  const demo = await measureDemoViews(dataset, count.files, logEnds, demoRounds, options.duckdb ?? {});
  return { ...count, demo };
}

const run = promisify(execFile);
/** The side script next to this one: .ts under tsx (how the bench runs), .js if compiled. */
const SIDE_SCRIPT = fileURLToPath(new URL(`./batch-demo-side${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

async function runSide(side: 'recompute' | 'hand-written', input: DemoSideInput): Promise<DemoSideResult> {
  // process.execArgv carries `--import tsx` when the bench runs under it.
  const { stdout } = await run(process.execPath, [...process.execArgv, SIDE_SCRIPT, side, JSON.stringify(input)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as DemoSideResult;
}

/**
 * Rounds of the demo views, each side in a fresh process per round, alternating (so a busy moment of the
 * machine falls on both sides alike); one unmeasured pair first, which warms the OS's file cache.
 */
async function measureDemoViews(dataset: Dataset, files: string[], ends: number[], rounds: number, duckdb: DuckDbOptions): Promise<DemoRecomputeResult> {
  const bar = progress('demo views: batch recompute against hand-written queries', (rounds + 1) * 2);
  const results: Record<'recompute' | 'hand-written', DemoSideResult[]> = { recompute: [], 'hand-written': [] };
  let rows: Record<string, number> = {};
  for (let round = 0; round <= rounds; round++) {
    const input: DemoSideInput = { directory: dataset.directory, logDirectory: dataset.logDirectory, files, ends, duckdb, round };
    const hand = await runSide('hand-written', input);
    bar.update(round * 2 + 1);
    const ours = await runSide('recompute', input);
    bar.update(round * 2 + 2);
    for (const [view, count] of Object.entries(hand.rows)) {
      if (ours.rows[view] !== count) throw new PlatformError(`the recompute of ${view} wrote ${ours.rows[view]} rows, the hand-written query found ${count}`);
    }
    rows = ours.rows;
    if (round === 0) continue;
    results['hand-written'].push(hand);
    results.recompute.push(ours);
  }
  bar.stop();
  const figure = (sides: DemoSideResult[]): DemoSideFigure => {
    const ms = median(sides.map((side) => side.ms));
    const parts = Object.fromEntries(Object.keys(sides[0]!.parts).map((name) => [name, median(sides.map((side) => side.parts[name]!))]));
    return { ms, eventsPerSecond: dataset.count / (ms / 1000), maxRssBytes: Math.max(...sides.map((side) => side.maxRssBytes)), parts };
  };
  const recompute = figure(results.recompute);
  const handWritten = figure(results['hand-written']);
  return { recompute, handWritten, ratio: recompute.ms / handWritten.ms, events: dataset.count, rows, rounds, duckdb };
}
