/**
 * The scheduler port: named jobs (the batch recompute, the archiver) run on a repeat schedule or on
 * demand, at most one run per name at a time, with progress, status and history for operators.
 */
import type { JsonValue } from '../../records/json.js';

export type JobTrigger = 'schedule' | 'manual';
export type JobState = 'waiting' | 'running' | 'completed' | 'failed';

export interface JobProgress {
  /** 0 to 100. */
  percent: number;
  message?: string;
}

export interface JobRun {
  id: string;
  name: string;
  trigger: JobTrigger;
  state: JobState;
  progress: JobProgress;
  data: JsonValue;
  /** Attempts started so far (a failed attempt is retried while attempts remain). */
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** What the handler returned, once completed. */
  result: JsonValue | null;
  /** Why the last attempt failed, once failed. */
  error: string | null;
}

export interface JobContext {
  runId: string;
  name: string;
  data: JsonValue;
  trigger: JobTrigger;
  /** Aborted when the scheduler closes: a long job should stop early. */
  signal: AbortSignal;
  /** Reports progress: a percentage, or a percentage with a message. */
  reportProgress(progress: number | JobProgress): Promise<void>;
}

export type JobHandler = (context: JobContext) => Promise<JsonValue | void>;

export interface JobOptions {
  /** Attempts per run before it is marked failed. Default 1. */
  attempts?: number;
  /** Wait before the second attempt, doubled before each later one. Default 1000 ms. */
  backoffMs?: number;
}

/** A fixed interval, or a cron expression (5 or 6 fields, with seconds first when 6). */
export type Repeat = { everyMs: number } | { cron: string; timezone?: string };

export interface JobStatus {
  name: string;
  repeat: Repeat | null;
  nextRunAt: number | null;
  running: JobRun | null;
  waiting: JobRun | null;
  lastFinished: JobRun | null;
}

export interface Scheduler {
  /** Sets the function that runs the jobs called `name`. */
  register(name: string, handler: JobHandler, options?: JobOptions): Promise<void>;
  /** Runs `name` on a schedule, replacing its previous one. */
  setRepeat(name: string, repeat: Repeat): Promise<void>;
  removeRepeat(name: string): Promise<void>;
  /**
   * Asks for a run of `name` now. One run per name runs at a time and at most one waits behind it: a
   * trigger while a run is waiting returns that run (triggers are deduplicated).
   */
  trigger(name: string, data?: JsonValue): Promise<JobRun>;
  getRun(id: string): Promise<JobRun | undefined>;
  /** Runs, newest first; of one job when `name` is given. */
  listRuns(options?: { name?: string; limit?: number }): Promise<JobRun[]>;
  status(name: string): Promise<JobStatus>;
  /** Resolves with the run once it has completed or failed; a TimeoutError after `timeoutMs`. */
  waitForRun(id: string, timeoutMs?: number): Promise<JobRun>;
  /** Stops schedules, aborts running jobs and waits for them to return. */
  close(): Promise<void>;
}
