/**
 * One side of figure 2's demo views, run in a process of its own so that its peak memory (maxRSS) is its
 * own: either the batch layer recomputing and publishing the three demo views over the archive, or the
 * hand-written DuckDB queries computing the same answers over the same Parquet files (read into JS).
 *
 *   node [--import tsx] batch-demo-side.ts <recompute|hand-written> '<JSON of DemoSideInput>'
 *
 * Prints one line of JSON (a DemoSideResult) on stdout. The archive must exist already: archiving is
 * in neither figure.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { Archiver, DuckDbEngine, Recomputer, queryRows, type DuckDbOptions } from '@lambda/batch-layer';
import { EmbeddedEventLog, EmbeddedViewStore, LocalLake, PlatformError, silentLogger } from '@lambda/core';
import { PARTITIONS, demoCatalog } from './dataset.js';

export interface DemoSideInput {
  directory: string;
  logDirectory: string;
  /** The archive's Parquet files (the hand-written side reads them directly). */
  files: string[];
  /** Log end offsets per partition: the recompute's horizon must reach them. */
  ends: number[];
  /** The same DuckDB settings on both sides. */
  duckdb: DuckDbOptions;
  /** Names the recompute's view-store directory, so concurrent or leftover runs do not collide. */
  round: number;
}

export interface DemoSideResult {
  ms: number;
  /** Per view (recompute) or per query (hand-written), milliseconds. */
  parts: Record<string, number>;
  /** Rows of each view's answer (by view name on both sides). */
  rows: Record<string, number>;
  /** process.resourceUsage().maxRSS, in bytes: this process's peak resident memory, Node's own included. */
  maxRssBytes: number;
}

/**
 * The three demo views, hand-written with DuckDB's own aggregates: count, avg, max, approx_count_distinct,
 * and the top 3 referrers by count then name (a window ranking). Same windows as the views: 1-minute
 * tumbling; 10-minute hopping by the minute (each event in the ten windows containing it); all time.
 */
export const HAND_WRITTEN_DEMO: Record<string, { view: string; sql: string }> = {
  pageviews_by_url: {
    view: 'pageviews_by_url',
    sql: `SELECT url, (_event_time // 60000) * 60000 AS minute, count(*) AS views, approx_count_distinct("user") AS visitors,
        avg(latency) AS avg_latency_ms, max(latency) AS max_latency_ms
      FROM read_parquet($files) GROUP BY url, minute`,
  },
  pageviews_by_url_top_referrers: {
    view: 'pageviews_by_url',
    sql: `SELECT url, minute, list({'value': referrer, 'count': n} ORDER BY n DESC, referrer) AS top_referrers FROM (
        SELECT url, (_event_time // 60000) * 60000 AS minute, referrer, count(*) AS n
        FROM read_parquet($files) WHERE referrer IS NOT NULL GROUP BY url, minute, referrer
        QUALIFY row_number() OVER (PARTITION BY url, minute ORDER BY n DESC, referrer) <= 3
      ) GROUP BY url, minute`,
  },
  visitors_by_referrer: {
    view: 'visitors_by_referrer',
    sql: `SELECT referrer, window_start, count(*) AS visits, approx_count_distinct("user") AS visitors FROM (
        SELECT referrer, "user", unnest(range((_event_time // 60000 - 9) * 60000, (_event_time // 60000 + 1) * 60000, 60000)) AS window_start
        FROM read_parquet($files)
      ) GROUP BY referrer, window_start`,
  },
  slow_pages: {
    view: 'slow_pages',
    sql: `SELECT url, count(*) AS slow_views, avg(latency / 1000) AS avg_seconds, max(latency / 1000) AS worst_seconds
      FROM read_parquet($files) WHERE latency >= 1000 GROUP BY url`,
  },
};

/** The sides' DuckDB settings, with a folder to spill to (as the batch layer has) past a memory limit. */
function duckDbSettings(input: DemoSideInput): DuckDbOptions {
  return { tempDirectory: join(input.directory, `duckdb-spill-${input.round}`), ...input.duckdb };
}

async function handWritten(input: DemoSideInput): Promise<Omit<DemoSideResult, 'maxRssBytes'>> {
  const engine = await DuckDbEngine.create(duckDbSettings(input));
  const parts: Record<string, number> = {};
  const rows: Record<string, number> = {};
  try {
    const started = performance.now();
    for (const [name, { view, sql }] of Object.entries(HAND_WRITTEN_DEMO)) {
      const at = performance.now();
      const result = await engine.withConnection((connection) => queryRows(connection, sql, { files: listValue(input.files) }, { files: LIST(VARCHAR) }));
      parts[name] = performance.now() - at;
      rows[view] = result.length;
    }
    return { ms: performance.now() - started, parts, rows };
  } finally {
    engine.close();
  }
}

async function recompute(input: DemoSideInput): Promise<Omit<DemoSideResult, 'maxRssBytes'>> {
  const logger = silentLogger();
  const log = await EmbeddedEventLog.open({ directory: input.logDirectory, fsync: 'never' });
  const lake = await LocalLake.open({ directory: join(input.directory, 'lake') });
  const engine = await DuckDbEngine.create(duckDbSettings(input));
  const catalog = demoCatalog();
  const archiver = new Archiver({ eventLog: log, lake, engine, workDirectory: join(input.directory, 'work'), logger });
  const storeDirectory = join(input.directory, `batch-demo-views-${input.round}`);
  const store = await EmbeddedViewStore.open({ directory: storeDirectory, fsync: 'always' });
  const parts: Record<string, number> = {};
  const rows: Record<string, number> = {};
  try {
    // The slices whose edges the horizon is chosen from: the whole log, for every view.
    for (const view of catalog.views.values()) {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        await store.putSlice({ view: view.name, partition, start: 0, end: input.ends[partition]!, closed: true, newestRecordAt: null }, []);
      }
    }
    const recomputer = new Recomputer({ viewStore: store, lake, engine, archiver, catalog, logger });
    const started = performance.now();
    for (const view of catalog.views.values()) {
      const at = performance.now();
      const manifest = await recomputer.run(view.name);
      parts[view.name] = performance.now() - at;
      if (!manifest || manifest.horizon.join() !== input.ends.join()) throw new PlatformError(`the recompute of ${view.name} did not cover the whole log`);
      rows[view.name] = Number(manifest.stats?.rows);
    }
    return { ms: performance.now() - started, parts, rows };
  } finally {
    await store.close();
    await rm(storeDirectory, { recursive: true, force: true });
    engine.close();
    await lake.close();
    await log.close();
  }
}

const [side, json] = process.argv.slice(2);
if (side !== 'recompute' && side !== 'hand-written') throw new PlatformError(`unknown side "${side}": recompute or hand-written`);
const input = JSON.parse(json!) as DemoSideInput;
const result = await (side === 'recompute' ? recompute(input) : handWritten(input)).finally(() => rm(duckDbSettings(input).tempDirectory!, { recursive: true, force: true }));
// maxRSS is in kilobytes.
console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 } satisfies DemoSideResult));
