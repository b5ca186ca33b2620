/**
 * The views: `GET /views` (definitions, schemas, status), `GET /views/:name` (merged windows of some keys,
 * with provenance, paged), `GET /views/:name/keys` (paged, by prefix) and `GET /views/:name/top` (top-N
 * keys over a window range, merged across both layers).
 */
import { Router } from 'express';
import { readViewGeneration, type Catalog, type ViewStore } from '@lambda/core';
import { keysQuery, topQuery, viewQuery } from '../api/schemas.js';
import { freshnessMs } from '../health/freshness.js';
import type { ViewProgressMonitor } from '../health/view-progress-monitor.js';
import { answerJson } from '../http/answer-json.js';
import { parseInput } from '../http/validate.js';
import { liveSlices } from '../query/consistent-snapshot.js';
import type { MergedViewReader } from '../query/merged-view-reader.js';

export interface ViewsRouterOptions {
  /** Whose verdict keeps a stalled view's freshness from looking fresh. */
  monitor: ViewProgressMonitor;
  /** The clock freshness is measured with. */
  now: () => number;
}

export function viewsRouter(catalog: Catalog, store: ViewStore, reader: MergedViewReader, options: ViewsRouterOptions): Router {
  const router = Router();
  const freshness = (view: string, newestRecordAt: number | null) => freshnessMs(newestRecordAt, options.monitor.stalledFreshnessFrom(view), options.now());

  router.get('/views', async (_request, response) => {
    response.json({ views: await Promise.all([...catalog.views.keys()].map((name) => describeView(name, catalog, store, freshness))) });
  });

  // An unknown view is a 404 before any parameter is checked: it is the first thing wrong.
  router.get('/views/:name', async (request, response) => {
    reader.view(request.params.name);
    const query = parseInput(viewQuery, request.query, 'query');
    const answer = await reader.read(request.params.name, { keys: query.key, from: query.from, to: query.to, limit: query.limit, cursor: query.cursor, contributions: query.contributions });
    // setHeader, not type(): the hottest route skips a MIME lookup per request.
    response.setHeader('Content-Type', 'application/json; charset=utf-8').send(answerJson(answer));
  });

  router.get('/views/:name/keys', async (request, response) => {
    reader.view(request.params.name);
    const query = parseInput(keysQuery, request.query, 'query');
    response.json(await reader.keys(request.params.name, query));
  });

  router.get('/views/:name/top', async (request, response) => {
    reader.view(request.params.name);
    const query = parseInput(topQuery, request.query, 'query');
    response.json(await reader.top(request.params.name, query));
  });

  return router;
}

/** The view as it serves now: the definition and status of its serving generation (after reprocessing, not the catalog's). */
async function describeView(name: string, catalog: Catalog, store: ViewStore, freshness: (view: string, newestRecordAt: number | null) => number | null) {
  const { generation, definition, compiled: view } = await readViewGeneration(store, catalog, name);
  const [manifest, slices] = await Promise.all([store.readManifest(view.name), store.listSlices(view.name)]);
  const horizon = manifest?.horizon ?? [];
  const live = liveSlices(slices, horizon);
  const partitions = Math.max(horizon.length, ...live.map((slice) => slice.partition + 1));
  const position = Array.from({ length: partitions }, (_, partition) =>
    Math.max(horizon[partition] ?? 0, ...live.filter((slice) => slice.partition === partition).map((slice) => slice.end)),
  );
  const newest = Math.max(manifest?.newestRecordAt ?? -1, ...live.map((slice) => slice.newestRecordAt ?? -1));
  return {
    name,
    generation,
    description: definition.description ?? null,
    source: view.source.topic,
    definition: {
      derive: definition.derive ?? {},
      filter: definition.filter ?? null,
      key: typeof definition.key === 'string' ? [definition.key] : definition.key,
      window: view.window.windowed ? { type: definition.window!.type, sizeMs: view.window.sizeMs, slideMs: view.window.slideMs } : null,
      aggregates: Object.fromEntries(view.aggregates.map((aggregate) => [aggregate.name, aggregate.definition])),
    },
    schema: {
      key: view.keySchema,
      values: Object.fromEntries(view.aggregates.map((aggregate) => [aggregate.name, aggregate.resultSchema])),
    },
    status: {
      batch: manifest ? { version: manifest.version, horizon: manifest.horizon, publishedAt: manifest.publishedAt, stats: manifest.stats ?? {} } : null,
      slices: live.length,
      position,
      newestRecordAt: newest < 0 ? null : newest,
      freshnessMs: freshness(name, newest < 0 ? null : newest),
    },
  };
}
