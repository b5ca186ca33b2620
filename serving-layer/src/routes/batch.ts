/**
 * The batch layer's controls: `POST /batch/run` asks for a recompute now (deduplicated with one already
 * waiting), `GET /batch/jobs` lists each view's job (schedule, next run, running, last) and the run
 * history, `GET /batch/jobs/:id` one run: state, progress, duration, the version and horizon it published,
 * or its error.
 */
import express, { Router } from 'express';
import {
  UnknownJobError,
  UnknownViewError,
  recomputeJobName,
  viewOfRecomputeJob,
  type Catalog,
  type JobRun,
  type JsonObject,
  type Scheduler,
} from '@lambda/core';
import { batchRunBody, jobParams, jobsQuery } from '../api/schemas.js';
import { parseInput } from '../http/validate.js';

export function batchRouter(catalog: Catalog, scheduler: Scheduler): Router {
  const router = Router();
  const knownView = (view: string) => {
    if (!catalog.views.has(view)) throw new UnknownViewError(`Unknown view "${view}"; known: ${[...catalog.views.keys()].join(', ')}`, { view });
    return view;
  };

  router.post('/batch/run', express.json({ limit: '10kb' }), async (request, response) => {
    const body = parseInput(batchRunBody, request.body ?? {}, 'body');
    // Every view means every view with a recompute job: a Kappa view has none (the speed layer keeps it).
    const views = body.view === undefined ? await recomputedViews(catalog, scheduler) : [knownView(body.view)];
    const runs = await Promise.all(views.map((view) => scheduler.trigger(recomputeJobName(view))));
    response.status(202).json({ runs: runs.map(describeRun) });
  });

  router.get('/batch/jobs', async (request, response) => {
    const query = parseInput(jobsQuery, request.query, 'query');
    const views = query.view === undefined ? [...catalog.views.keys()] : [knownView(query.view)];
    const jobs = [];
    for (const view of views) {
      const name = recomputeJobName(view);
      // A view whose job this process's scheduler does not run has nothing to report here.
      const status = await scheduler.status(name).catch((error: unknown) => {
        if (error instanceof UnknownJobError) return undefined;
        throw error;
      });
      if (!status) continue;
      jobs.push({
        view,
        name,
        repeat: status.repeat,
        nextRunAt: status.nextRunAt,
        running: status.running && describeRun(status.running),
        waiting: status.waiting && describeRun(status.waiting),
        lastFinished: status.lastFinished && describeRun(status.lastFinished),
      });
    }
    // Every run, then this view's: a limit here would count other jobs' runs (the archiver's, other
    // views') and could leave out the newest runs asked for.
    const runs = (await scheduler.listRuns())
      .filter((run) => views.includes(viewOfRecomputeJob(run.name) ?? ''))
      .slice(0, query.limit);
    response.json({ jobs, runs: runs.map(describeRun) });
  });

  router.get('/batch/jobs/:id', async (request, response) => {
    const { id } = parseInput(jobParams, request.params, 'path');
    const run = await scheduler.getRun(id);
    if (!run) throw new UnknownJobError(`No job run "${id}"`, { id });
    response.json(describeRun(run));
  });

  return router;
}

function describeRun(run: JobRun) {
  const result = (run.result ?? {}) as JsonObject;
  const end = run.finishedAt ?? (run.startedAt === null ? null : Date.now());
  // `data` is what a trigger passed to the handler (nothing, from here): not part of the documented run.
  const { data: _data, ...described } = run;
  return {
    ...described,
    view: viewOfRecomputeJob(run.name) ?? null,
    durationMs: run.startedAt === null || end === null ? null : end - run.startedAt,
    version: typeof result.version === 'number' ? result.version : null,
    horizon: Array.isArray(result.horizon) ? (result.horizon as number[]) : null,
  };
}

/** The views whose recompute job the scheduler knows. */
async function recomputedViews(catalog: Catalog, scheduler: Scheduler): Promise<string[]> {
  const views: string[] = [];
  for (const view of catalog.views.keys()) {
    const known = await scheduler.status(recomputeJobName(view)).then(
      () => true,
      (error: unknown) => {
        if (error instanceof UnknownJobError) return false;
        throw error;
      },
    );
    if (known) views.push(view);
  }
  return views;
}
