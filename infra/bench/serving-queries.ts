/**
 * Figure 4: merged point queries over HTTP at concurrency 32, requests per second and p99 latency,
 * against a bare Express route answering a constant, both served from this process and loaded in turn
 * by a load generator in a process of its own (wrk when installed, else autocannon: see load.ts).
 *
 * The serving state is a realistic one, in the embedded view store (fsync default): the web-analytics
 * demo's `pageviews_by_url` with a published batch version and a few slices above its horizon per
 * partition, holding states the view itself folded from the demo's page views.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import {
  PlatformError,
  Catalog,
  Metrics,
  loadConfig,
  partitionForKey,
  silentLogger,
  type SourceRow,
} from '@lambda/core';
import { openPorts } from '@lambda/adapters';
import { createServer, listen, type MergedAnswer, type RunningServer } from '@lambda/serving-layer';
import { PAGEVIEWS, webAnalyticsCatalog } from '../src/index.js';
import { PARTITIONS, foldRows, generateEvents } from './dataset.js';
import { load, loadGenerator, type LoadGenerator, type LoadResult } from './load.js';
import { median, progress } from './progress.js';

export interface ServingResult {
  /** The merged point query. */
  merged: { requestsPerSecond: number; p99: number };
  /** The bare Express route answering a constant. */
  constant: { requestsPerSecond: number; p99: number };
  connections: number;
  /** What loaded the routes. */
  generator: LoadGenerator;
  /** Seconds each route was loaded in each measured round. */
  secondsPerRound: number;
  rounds: number;
  /** Requests answered in the measured rounds, per route. */
  requests: { merged: number; constant: number };
  /** What the serving state holds. */
  state: { events: number; keys: number; batchRows: number; slices: number; rangeMinutes: number; windowsPerAnswer: number };
}

export const CONNECTIONS = 32;
const VIEW = 'pageviews_by_url';
/** Page views folded into the serving state. */
const EVENTS = 200_000;
/** The share of each partition's records below the batch version's horizon; slices hold the rest. */
const BATCH_SHARE = 0.8;
const SLICES_PER_PARTITION = 3;
const WARM_UP_SECONDS = 2;
/** A point query's window range: the last ten minutes of windows. */
const RANGE_MS = 10 * 60_000;

export async function measureServing(options: { rounds: number; seconds: number }): Promise<ServingResult> {
  // Whole seconds: wrk takes no fractions.
  const secondsPerRound = Math.max(1, Math.round(options.seconds / options.rounds));
  const steps = 2 + options.rounds * 2;
  const bar = progress(`point queries at concurrency ${CONNECTIONS} against a bare route`, steps);
  const directory = await mkdtemp(join(tmpdir(), 'lambda-bench-serving-'));
  const logger = silentLogger();
  const metrics = new Metrics();
  const ports = await openPorts(loadConfig({ env: {}, overrides: { dataDir: directory } }), { logger, metrics });
  const servers: RunningServer[] = [];
  try {
    // The serving state: the demo's page views, partitioned by their key as the log would, folded by the
    // view into a batch version (below the horizon) and a few slices per partition above it.
    const catalog = Catalog.compile(webAnalyticsCatalog);
    const source = catalog.sources.get(PAGEVIEWS)!;
    const view = catalog.views.get(VIEW)!;
    const partitions: SourceRow[][] = Array.from({ length: PARTITIONS }, () => []);
    const now = Date.now();
    for (const { key, value } of generateEvents(EVENTS, 4)) {
      const keyBuffer = key === null ? null : Buffer.from(key);
      const partition = keyBuffer === null ? 0 : partitionForKey(keyBuffer, PARTITIONS);
      const decoded = source.decode({ topic: PAGEVIEWS, partition, offset: partitions[partition]!.length, timestamp: now, key: keyBuffer, value: Buffer.from(value), headers: {} });
      if (!decoded.ok) throw new PlatformError(`a generated event does not decode: ${decoded.reason}`);
      partitions[partition]!.push(decoded.row);
    }
    const horizon = partitions.map((records) => Math.floor(records.length * BATCH_SHARE));
    const batchRows = foldRows(view, partitions.flatMap((records, partition) => records.slice(0, horizon[partition])));
    await ports.viewStore.putBatchRows(VIEW, 1, batchRows);
    await ports.viewStore.publishBatchVersion({ view: VIEW, version: 1, horizon, publishedAt: now, newestRecordAt: now, stats: { rows: batchRows.length } });
    let slices = 0;
    for (const [partition, records] of partitions.entries()) {
      const edges = Array.from({ length: SLICES_PER_PARTITION + 1 }, (_, i) => horizon[partition]! + Math.round(((records.length - horizon[partition]!) * i) / SLICES_PER_PARTITION));
      for (let i = 0; i < SLICES_PER_PARTITION; i++) {
        const [start, end] = [edges[i]!, edges[i + 1]!];
        const closed = i < SLICES_PER_PARTITION - 1;
        await ports.viewStore.putSlice({ view: VIEW, partition, start, end, closed, newestRecordAt: now }, foldRows(view, records.slice(start, end)));
        slices++;
      }
    }

    const merged = await listen(createServer({ ports, catalog, metrics, logger }), { host: '127.0.0.1', port: 0 });
    servers.push(merged);
    const bare = express();
    bare.get('/constant', (_request, response) => void response.json({ ok: true }));
    const constant = await listen(bare, { host: '127.0.0.1', port: 0 });
    servers.push(constant);

    // Point queries of one key each, over the last ten minutes of windows, going round every key.
    const keys = [...new Set(batchRows.map((row) => row.key))].sort();
    const newestWindow = Math.max(...batchRows.map((row) => row.windowStart));
    const from = newestWindow - RANGE_MS + view.window.sizeMs;
    const paths = keys.map((key) => `/views/${VIEW}?key=${encodeURIComponent(key)}&from=${from}`);
    // One answer checked by hand: both layers in it, several windows.
    const answer = (await (await fetch(`${merged.url}${paths[0]}`)).json()) as MergedAnswer;
    if (answer.provenance?.batch?.version !== 1 || answer.provenance.slices.length !== slices || answer.windows.length < 2) {
      throw new PlatformError(`the merged view does not answer as set up: ${JSON.stringify(answer).slice(0, 500)}`);
    }

    const generator = loadGenerator();
    const targets = {
      merged: { url: merged.url, paths, connections: CONNECTIONS },
      constant: { url: constant.url, paths: ['/constant'], connections: CONNECTIONS },
    };
    await load(generator, { ...targets.constant, seconds: WARM_UP_SECONDS });
    bar.update(1);
    await load(generator, { ...targets.merged, seconds: WARM_UP_SECONDS });
    bar.update(2);
    const results: { merged: LoadResult[]; constant: LoadResult[] } = { merged: [], constant: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternately, so a slow moment of the machine weighs on both routes alike.
      results.constant.push(await load(generator, { ...targets.constant, seconds: secondsPerRound }));
      bar.update(3 + round * 2);
      results.merged.push(await load(generator, { ...targets.merged, seconds: secondsPerRound }));
      bar.update(4 + round * 2);
    }
    const summary = (runs: LoadResult[]) => ({ requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)), p99: median(runs.map((run) => run.p99)) });
    const total = (runs: LoadResult[]) => runs.reduce((sum, run) => sum + run.requests, 0);
    return {
      merged: summary(results.merged),
      constant: summary(results.constant),
      connections: CONNECTIONS,
      generator,
      secondsPerRound,
      rounds: options.rounds,
      requests: { merged: total(results.merged), constant: total(results.constant) },
      state: { events: EVENTS, keys: keys.length, batchRows: batchRows.length, slices, rangeMinutes: RANGE_MS / 60_000, windowsPerAnswer: answer.windows.length },
    };
  } finally {
    bar.stop();
    for (const server of servers) await server.close();
    await ports.close();
    await rm(directory, { recursive: true, force: true });
  }
}
