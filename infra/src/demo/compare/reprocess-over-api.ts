/**
 * A logic change as an operator makes it: `POST /views/:name/reprocess` with the new definition, then
 * `GET /views/:name/reprocess` polled until the run completes. Going through the API (not the process's
 * own handle) is what lets the demo show each mode's progress (Kappa's replay, Lambda's recompute) while
 * it runs, read the same way the dashboard and `npm run reprocess` read it.
 */
import { ConnectionError, PlatformError, type ViewDefinition } from '@lambda/core';
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
  const url = new URL(`/views/${encodeURIComponent(view)}/reprocess`, baseUrl);
  const started = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ definition }) });
  if (started.status !== 202) throw new ConnectionError(`POST ${url.pathname} answered ${started.status}: ${await started.text()}`, { context: { url: url.href } });
  let job = ((await started.json()) as { job: ReprocessJob }).job;
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
      const polled = await poll(url).catch((error: unknown) => error as Error);
      if (!(polled instanceof Error)) {
        job = polled;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
    }
  }
}

async function poll(url: URL): Promise<ReprocessJob> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new ConnectionError(`GET ${url.pathname} answered ${response.status}: ${await response.text()}`, { context: { url: url.href } });
  return ((await response.json()) as { job: ReprocessJob }).job;
}
