/**
 * Figure 6: an ad-hoc SQL query (`POST /query`) over a view of a million merged rows, against DuckDB
 * running the same SQL over the same rows already in a table.
 *
 * The view counts page views per page per minute, with their average and worst latency; its batch version
 * holds a million rows and a slice above its horizon adds to some of them. Two cases of ours:
 *  - *cold*: the view moved since the last query (a new slice), so the answer reads the new snapshot,
 *    merges it and loads it into DuckDB before the query runs: what a query pays while the demo flows;
 *  - *warm*: the view did not move, so the table loaded for the previous query serves again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIGINT, DOUBLE, DuckDBInstance, DuckDBTimestampValue, TIMESTAMP, VARCHAR } from '@duckdb/node-api';
import { Catalog, EmbeddedViewStore, PlatformError, type SourceRow } from '@lambda/core';
import { MergedViewReader, SqlQueryEngine, type SqlAnswer } from '@lambda/serving-layer';
import { foldRows } from './dataset.js';
import { median, progress } from './progress.js';

export interface SqlQueryResult {
  rows: number;
  /** Median ms of the query when the view moved since the last one. */
  coldMs: number;
  /** Median ms of the query when it did not. */
  warmMs: number;
  /** Median ms of DuckDB running the same SQL over the same rows in a table. */
  duckDbMs: number;
  sql: string;
}

const VIEW = 'page_latency';
const MINUTES = 100;
const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1);
/** A typical ad-hoc question: the slowest busy pages. */
const SQL = `SELECT url, sum(views) AS views, sum(avg_latency * views) / sum(views) AS avg_latency, max(worst_latency) AS worst
FROM ${VIEW} GROUP BY url HAVING sum(views) >= 100 ORDER BY avg_latency DESC, url LIMIT 20`;

const catalog = Catalog.compile({
  sources: [{ topic: 'pageviews', eventTimeField: 'ts', fields: { url: 'string', latency: 'number' } }],
  views: [
    {
      name: VIEW,
      source: 'pageviews',
      key: ['url'],
      window: { type: 'tumbling', size: '1m' },
      aggregates: { views: 'count()', avg_latency: 'avg(latency)', worst_latency: 'max(latency)' },
    },
  ],
});

/** Page views at offsets [from, to) of partition 0: page i % pages, minute ⌊i / pages⌋ % MINUTES, so the first pages × MINUTES cover every row once. */
function pageViews(from: number, to: number, pages: number): SourceRow[] {
  const rows: SourceRow[] = [];
  for (let offset = from; offset < to; offset++) {
    const eventTime = START + (Math.floor(offset / pages) % MINUTES) * MINUTE + (offset % 997);
    rows.push({ partition: 0, offset, timestamp: START, eventTime, fields: { url: `/page/${offset % pages}`, latency: 20 + ((offset * 7919) % 1000), event_time: eventTime } });
  }
  return rows;
}

/** `pages`: the view's keys; it holds `pages` × 100 windows. */
export async function measureSqlQuery(options: { rounds: number; pages: number }): Promise<SqlQueryResult> {
  const pages = options.pages;
  const bar = progress(`a SQL group-by over ${(pages * MINUTES).toLocaleString('en')} merged rows`, 3 + options.rounds * 3);
  const directory = await mkdtemp(join(tmpdir(), 'lambda-bench-sql-'));
  const store = await EmbeddedViewStore.open({ directory, fsync: 'never' });
  const view = catalog.views.get(VIEW)!;
  const engine = await SqlQueryEngine.create(new MergedViewReader(store, catalog), catalog, { timeoutMs: 600_000, memoryLimit: '4GB' });
  const baseline = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await baseline.connect();
  try {
    const horizon = pages * MINUTES;
    await store.putBatchRows(VIEW, 1, foldRows(view, pageViews(0, horizon, pages)));
    await store.publishBatchVersion({ view: VIEW, version: 1, horizon: [horizon], publishedAt: START, newestRecordAt: START, stats: { rows: horizon } });
    bar.update(1);
    let end = horizon + horizon / 20;
    await store.putSlice({ view: VIEW, partition: 0, start: horizon, end, closed: true, newestRecordAt: START }, foldRows(view, pageViews(horizon, end, pages)));
    bar.update(2);

    // The baseline's table: the same merged rows, loaded once, as the query sees them.
    const snapshot = await new MergedViewReader(store, catalog).snapshot(VIEW);
    await connection.run(`CREATE TABLE ${VIEW} (url VARCHAR, window_start TIMESTAMP, window_end TIMESTAMP, views BIGINT, avg_latency DOUBLE, worst_latency DOUBLE)`);
    const appender = await connection.createAppender(VIEW);
    try {
      snapshot.forEachWindow((key, windowStart, state) => {
        const values = view.result(state);
        appender.appendValue(key, VARCHAR);
        appender.appendValue(new DuckDBTimestampValue(BigInt(windowStart) * 1000n), TIMESTAMP);
        appender.appendValue(new DuckDBTimestampValue(BigInt(windowStart + MINUTE) * 1000n), TIMESTAMP);
        appender.appendValue(BigInt(values.views as number), BIGINT);
        appender.appendValue(values.avg_latency as number, DOUBLE);
        appender.appendValue(values.worst_latency as number, DOUBLE);
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    bar.update(3);

    const cold: number[] = [];
    const warm: number[] = [];
    const duckDb: number[] = [];
    let answer: SqlAnswer | undefined;
    for (let round = 0; round < options.rounds; round++) {
      // The view moves: a slice of a few more page views, so the next query reads a new snapshot.
      await store.putSlice({ view: VIEW, partition: 0, start: end, end: end + 1000, closed: true, newestRecordAt: START }, foldRows(view, pageViews(end, end + 1000, pages)));
      end += 1000;
      let started = performance.now();
      answer = await engine.query({ sql: SQL });
      cold.push(performance.now() - started);
      bar.update(4 + round * 3);
      started = performance.now();
      await engine.query({ sql: SQL });
      warm.push(performance.now() - started);
      bar.update(5 + round * 3);
      started = performance.now();
      await connection.runAndReadAll(SQL);
      duckDb.push(performance.now() - started);
      bar.update(6 + round * 3);
    }
    const rows = answer!.views[VIEW]!.position[0] === end ? pages * MINUTES : Number.NaN;
    if (!(answer!.rows.length === 20) || Number.isNaN(rows)) throw new PlatformError(`the SQL answer is not as set up: ${JSON.stringify(answer).slice(0, 500)}`);
    return { rows, coldMs: median(cold), warmMs: median(warm), duckDbMs: median(duckDb), sql: SQL.replace(/\s+/g, ' ') };
  } finally {
    bar.stop();
    connection.closeSync();
    baseline.closeSync();
    engine.close();
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}
