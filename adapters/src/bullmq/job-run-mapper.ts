/**
 * How a run is stored in a BullMQ job, and how it reads back as a `JobRun`: the payload the trigger
 * passed, the trigger kind, and a progress object that also counts attempts (attempts are retried
 * inside one BullMQ attempt, see bullmq-scheduler.ts).
 */
import type { Job } from 'bullmq';
import type { JsonValue, JobProgress, JobRun, JobState, JobTrigger } from '@lambda/core';

/** The data of every run's BullMQ job. */
export interface StoredRunData {
  trigger: JobTrigger;
  data: JsonValue;
  /** Unique per trigger call, so a trigger tells its own new job from one that was already waiting. */
  token: string;
}

/** The progress of every run's BullMQ job. */
export interface StoredProgress extends JobProgress {
  attempts: number;
}

/** BullMQ's job id of run number `n` (custom ids may not contain ':' nor be integers). */
export function bullJobId(runNumber: number): string {
  return `run.${runNumber}`;
}

export function runNumberOfBullJob(jobId: string | undefined): number | undefined {
  const match = /^run\.(\d+)$/.exec(jobId ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The public run id: the job name, a dot, the run number (the job name itself may hold dots). */
export function runId(name: string, runNumber: number): string {
  return `${name}.${runNumber}`;
}

export function parseRunId(id: string): { name: string; runNumber: number } | undefined {
  const dot = id.lastIndexOf('.');
  const runNumber = Number(id.slice(dot + 1));
  if (dot <= 0 || !/^\d+$/.test(id.slice(dot + 1)) || !Number.isSafeInteger(runNumber)) return undefined;
  return { name: id.slice(0, dot), runNumber };
}

/** BullMQ's state names as run states; undefined for a job BullMQ no longer knows. */
export function runState(bullState: string): JobState | undefined {
  switch (bullState) {
    case 'waiting':
    case 'wait':
    case 'prioritized':
    case 'waiting-children':
    case 'delayed':
      return 'waiting';
    case 'active':
      return 'running';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      return undefined;
  }
}

export function storedProgress(progress: unknown): StoredProgress {
  if (progress !== null && typeof progress === 'object' && typeof (progress as StoredProgress).percent === 'number') {
    const stored = progress as StoredProgress;
    return { ...stored, attempts: typeof stored.attempts === 'number' ? stored.attempts : 0 };
  }
  return { percent: typeof progress === 'number' ? progress : 0, attempts: 0 };
}

export function toJobRun(name: string, job: Job, state: JobState): JobRun {
  const stored = job.data as StoredRunData;
  const { attempts, ...progress } = storedProgress(job.progress);
  const finished = state === 'completed' || state === 'failed';
  return {
    id: runId(name, runNumberOfBullJob(job.id) ?? 0),
    name,
    trigger: stored.trigger,
    state,
    progress,
    data: stored.data ?? null,
    attempts,
    createdAt: job.timestamp,
    // A run put back in the queue (its worker died) has not started again yet.
    startedAt: state === 'waiting' ? null : (job.processedOn ?? null),
    finishedAt: finished ? (job.finishedOn ?? null) : null,
    result: state === 'completed' ? ((job.returnvalue as JsonValue | undefined) ?? null) : null,
    error: state === 'failed' ? (job.failedReason ?? 'failed') : null,
  };
}
