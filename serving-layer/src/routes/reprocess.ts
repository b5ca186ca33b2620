/**
 * Reprocessing a view after its logic changed: `POST /views/:name/reprocess` starts a run (202, with the
 * job), with the new definition in the body or, without one, the catalog file's read again;
 * `GET /views/:name/reprocess` is the view's latest run: phase, percent of records replayed, and once
 * done the generation it switched to (or its error). Runs live in the process that runs the speed layer
 * (the all-in-one runner), which hands its `ReprocessService` to `createServer`.
 */
import express, { Router } from 'express';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  UnknownViewError,
  compileGeneration,
  type Catalog,
  type ViewDefinition,
} from '@lambda/core';
import { reprocessBody, type ReprocessJobAnswer } from '../api/reprocess-schemas.js';
import { parseInput } from '../http/validate.js';

/** What the serving layer needs of reprocessing (the speed layer's `ReprocessJobs`). */
export interface ReprocessService {
  /** Starts a run in the background; a ConflictError while one runs for the view. */
  start(view: string, definition?: ViewDefinition): ReprocessJobAnswer;
  status(view: string): ReprocessJobAnswer | undefined;
}

export function reprocessRouter(catalog: Catalog, service: ReprocessService | undefined): Router {
  const router = Router();
  const knownView = (view: string) => {
    if (!catalog.views.has(view)) throw new UnknownViewError(`Unknown view "${view}"; known: ${[...catalog.views.keys()].join(', ')}`, { view });
    if (!service) throw new ConflictError('Reprocessing runs in the process of the speed layer (npm start): this serving process cannot start or follow it', { view });
    return service;
  };

  router.post('/views/:name/reprocess', express.json({ limit: '100kb' }), (request, response) => {
    const view = request.params.name;
    const reprocess = knownView(view);
    const { definition } = parseInput(reprocessBody, request.body ?? {}, 'body');
    if (definition) {
      if (definition.name !== view) throw new InvalidArgumentError(`body parameter "definition.name" must be "${view}", not "${definition.name}"`, { view });
      // Checked here, so a bad definition is a 400 now rather than a failed run later.
      compileGeneration(catalog, definition as ViewDefinition, 2);
    }
    response.status(202).json({ job: reprocess.start(view, definition as ViewDefinition | undefined) });
  });

  router.get('/views/:name/reprocess', (request, response) => {
    const view = request.params.name;
    const job = knownView(view).status(view);
    if (!job) throw new NotFoundError(`View "${view}" was not reprocessed since this process started`, { view });
    response.json({ job });
  });

  return router;
}
