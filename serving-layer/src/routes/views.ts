/**
 * `GET /views`: every view with its definition and status. `GET /views/:name?key=&from=&to=`: the merged
 * windows of some keys, with provenance.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Catalog, CompiledView, ViewStore } from '@lambda/common';
import { parseInput } from '../http/validate.js';
import type { MergedViewReader } from '../query/merged-view-reader.js';

/** Epoch milliseconds, or an ISO-8601 date. */
const instant = z.string().transform((text, context) => {
  const value = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    context.addIssue({ code: 'custom', message: `must be epoch milliseconds or an ISO-8601 date, not ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return value;
});

export const MAX_KEYS_PER_QUERY = 100;

export const viewQuerySchema = z
  .object({
    key: z
      .union([z.string(), z.array(z.string())], { error: 'is required: give one or more keys (?key=a&key=b)' })
      .transform((key) => (Array.isArray(key) ? key : [key]))
      .pipe(z.array(z.string()).min(1).max(MAX_KEYS_PER_QUERY, `takes at most ${MAX_KEYS_PER_QUERY} keys`)),
    from: instant.optional(),
    to: instant.optional(),
  })
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, {
    message: 'must be after from',
    path: ['to'],
  });

export function viewsRouter(catalog: Catalog, store: ViewStore, reader: MergedViewReader): Router {
  const router = Router();

  router.get('/views', async (_request, response) => {
    const views = await Promise.all([...catalog.views.values()].map((view) => describeView(view, store)));
    response.json({ views });
  });

  router.get('/views/:name', async (request, response) => {
    reader.view(request.params.name); // 404 before 400: an unknown view is the first thing wrong
    const query = parseInput(viewQuerySchema, request.query, 'query');
    response.json(await reader.read(request.params.name, { keys: query.key, from: query.from, to: query.to }));
  });

  return router;
}

async function describeView(view: CompiledView, store: ViewStore) {
  const { definition } = view;
  const [manifest, slices] = await Promise.all([store.readManifest(view.name), store.listSlices(view.name)]);
  const horizon = manifest?.horizon ?? [];
  const live = slices.filter((slice) => slice.start >= (horizon[slice.partition] ?? 0));
  const newest = Math.max(manifest?.newestRecordAt ?? -1, ...live.map((slice) => slice.newestRecordAt ?? -1));
  return {
    name: view.name,
    description: definition.description ?? null,
    source: view.source.topic,
    definition: {
      derive: definition.derive ?? {},
      filter: definition.filter ?? null,
      key: typeof definition.key === 'string' ? [definition.key] : definition.key,
      window: view.window.windowed ? { type: definition.window!.type, sizeMs: view.window.sizeMs, slideMs: view.window.slideMs } : null,
      aggregates: Object.fromEntries(view.aggregates.map((aggregate) => [aggregate.name, aggregate.definition])),
    },
    status: {
      batch: manifest
        ? { version: manifest.version, horizon: manifest.horizon, publishedAt: manifest.publishedAt, stats: manifest.stats ?? {} }
        : null,
      slices: live.length,
      newestRecordAt: newest < 0 ? null : newest,
      freshnessMs: newest < 0 ? null : Math.max(0, Date.now() - newest),
    },
  };
}
