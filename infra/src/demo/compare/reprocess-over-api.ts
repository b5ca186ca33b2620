/**
 * A logic change as an operator makes it: `POST /views/:name/reprocess` with the new definition, then
 * `GET /views/:name/reprocess` polled until the run completes. Going through the API (not the process's
 * own handle) is what lets the demo show each mode's progress (Kappa's replay, Lambda's recompute) while
 * it runs, read the same way the dashboard and `npm run reprocess` read it.
 */
import { PlatformError, type ViewDefinition } from '@lambda/core';
import { platformClient } from '../../platform-client.js';
import type { ReprocessSummary } from './mode-protocol.js';

export interface ReprocessJobProgress {
  phase: 'archive' | 'replay' | 'switch' | 'cleanup' | 'done';
  percent: number;
  recordsReplayed: number;
  recordsTotal: number;
}

interface ReprocessJob {
  state: 'running' | 'completed' | 'failed';
  progress: ReprocessJobProgress;
  result: (ReprocessSummary & { position: number[] }) | null;
  error: string | null;
}

/** One progress reading, as the report keeps it. */
export interface ProgressSample {
  /** Ms since the change was applied. */
  atMs: number;
  state: ReprocessJob['state'];
  phase: ReprocessJobProgress['phase'];
  percent: number;
}

/**
 * Starts the reprocess and polls it every `everyMs` until it completes; `onProgress` hears each reading.
 * Rejects with the run's error when it fails.
 */
export async function reprocessOverApi(
  baseUrl: string,
  view: string,
  definition: ViewDefinition,
  options: {
    everyMs?: number;
    /** When to stop polling a run that has not completed (ms since the epoch); the run then fails. */
    deadline?: number;
    /** Polling stops (and the run fails) once this says so: the driver gave up on the change. */
    stopped?: () => boolean;
    onProgress?: (progress: { state: ReprocessJob['state']; progress: ReprocessJobProgress }) => void;
  } = {},
): Promise<ReprocessSummary> {
  const call = platformClient({ url: baseUrl, timeoutMs: 30_000 });
  const path = `/views/${encodeURIComponent(view)}/reprocess`;
  let { job } = await call<{ job: ReprocessJob }>('POST', path, { definition });
  for (;;) {
    options.onProgress?.({ state: job.state, progress: job.progress });
    if (job.state === 'failed') throw new PlatformError(`the reprocess of ${view} failed: ${job.error}`, { context: { view } });
    if (job.state === 'completed' && job.result) {
      const { generation, startedAt, switchedAt, durationMs, recordsReplayed, recordsFromArchive } = job.result;
      return { view, generation, startedAt, switchedAt, durationMs, recordsReplayed, recordsFromArchive };
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
    // A platform busy with a long recompute may answer late or drop a poll: asked again until the deadline.
    for (;;) {
      if (options.stopped?.()) throw new PlatformError(`stopped waiting for the reprocess of ${view}`, { context: { view } });
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        throw new PlatformError(`the reprocess of ${view} had not completed by the deadline (last: ${job.progress.phase}, ${job.progress.percent}%)`, { context: { view } });
      }
      const polled = await call<{ job: ReprocessJob }>('GET', path).then(({ job }) => job, (error: unknown) => error as Error);
      if (!(polled instanceof Error)) {
        job = polled;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
    }
  }
}
