/**
 * A batch recompute as an operator asks for one: `POST /batch/run` (every view with a recompute job), then
 * `GET /batch/jobs/:id` polled until each run has finished. The history's Lambda fold ends with one, so the
 * state it leaves has a batch version over the whole folded history, as a platform that has been running
 * for a while has.
 */
import { PlatformError } from '@lambda/core';
import { platformClient } from '../../platform-client.js';

interface BatchRun {
  id: string;
  view: string | null;
  state: 'waiting' | 'running' | 'completed' | 'failed';
  error: string | null;
  horizon: number[] | null;
}

/** Asks for a recompute of every view now and waits until every run completed; resolves with each run's horizon by view. */
export async function recomputeOverApi(baseUrl: string, options: { everyMs?: number; deadline?: number } = {}): Promise<Record<string, number[] | null>> {
  const call = platformClient({ url: baseUrl, timeoutMs: 30_000 });
  const { runs } = await call<{ runs: BatchRun[] }>('POST', '/batch/run', {});
  const horizons: Record<string, number[] | null> = {};
  for (let run of runs) {
    while (run.state === 'waiting' || run.state === 'running') {
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        throw new PlatformError(`the recompute of ${run.view} had not finished by the deadline`, { context: { view: run.view } });
      }
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
      run = await call<BatchRun>('GET', `/batch/jobs/${encodeURIComponent(run.id)}`);
    }
    if (run.state === 'failed') throw new PlatformError(`the recompute of ${run.view} failed: ${run.error}`, { context: { view: run.view } });
    horizons[run.view ?? run.id] = run.horizon;
  }
  return horizons;
}
