/**
 * Reprocess runs started through the API, tracked in memory: one run at a time per view, its progress
 * while it runs, its result or error after. The API polls them; a restart forgets them (a run cut short
 * by it never switched readers: generation N still serves, and the next run builds at a fresh name).
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, type ViewDefinition } from '@lambda/core';
import type { ReprocessProgress, ReprocessResult, Reprocessor } from './reprocessor.js';

export interface ReprocessJob {
  id: string;
  view: string;
  state: 'running' | 'completed' | 'failed';
  progress: ReprocessProgress;
  startedAt: number;
  finishedAt: number | null;
  result: ReprocessResult | null;
  error: string | null;
}

export class ReprocessJobs {
  private readonly latest = new Map<string, ReprocessJob>();
  private readonly done = new Map<string, Promise<void>>();

  constructor(private readonly reprocessor: Pick<Reprocessor, 'reprocess'>) {}

  /** Starts reprocessing `view` in the background; a ConflictError while one runs for it. */
  start(view: string, definition?: ViewDefinition): ReprocessJob {
    if (this.latest.get(view)?.state === 'running') throw new ConflictError(`View "${view}" is already being reprocessed`, { view });
    const job: ReprocessJob = {
      id: randomUUID(),
      view,
      state: 'running',
      progress: { phase: 'replay', percent: 0, recordsReplayed: 0, recordsTotal: 0 },
      startedAt: Date.now(),
      finishedAt: null,
      result: null,
      error: null,
    };
    this.latest.set(view, job);
    const run = this.reprocessor
      .reprocess(view, { definition, onProgress: (progress) => (job.progress = progress) })
      .then((result) => Object.assign(job, { state: 'completed', result, finishedAt: Date.now() }))
      .catch((error: unknown) => Object.assign(job, { state: 'failed', error: (error as Error).message, finishedAt: Date.now() }))
      .then(() => undefined);
    this.done.set(job.id, run);
    return { ...job };
  }

  /** The view's latest job, as it stands now. */
  status(view: string): ReprocessJob | undefined {
    const job = this.latest.get(view);
    return job && { ...job };
  }

  /** Resolves when every job started so far has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.done.values());
  }
}
