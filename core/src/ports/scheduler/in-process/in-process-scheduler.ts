/**
 * The in-process scheduler: timers and cron (croner) in this process, runs executed by the handlers
 * registered here. Status and history live in memory, bounded per job.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import { ClosedError, InvalidArgumentError, TimeoutError, UnknownJobError } from '../../../errors/errors.js';
import { silentLogger, type Logger } from '../../../logging/logger.js';
import type { JsonValue } from '../../../records/json.js';
import type { JobHandler, JobOptions, JobRun, JobStatus, JobTrigger, Repeat, Scheduler } from '../scheduler.js';
import { normalizeProgress, runNumber, validateJobName, validateJobOptions, validateRepeat } from '../validation.js';

/** The longest delay a Node.js timer holds; a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface InProcessSchedulerOptions {
  /** Finished runs kept per job. Default 100. */
  historyLimit?: number;
  logger?: Logger;
}

interface Job {
  name: string;
  handler: JobHandler;
  options: Required<JobOptions>;
  repeat: Repeat | null;
  timer: NodeJS.Timeout | undefined;
  cron: Cron | undefined;
  nextRunAt: number | null;
  running: JobRun | undefined;
  waiting: JobRun | undefined;
  /** Finished runs, newest first. */
  history: JobRun[];
}

export class InProcessScheduler implements Scheduler {
  private readonly jobs = new Map<string, Job>();
  private readonly runs = new Map<string, JobRun>();
  private readonly finishWaiters = new Map<string, Array<(run: JobRun) => void>>();
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private nextRunNumber = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly historyLimit: number;
  private readonly logger: Logger;

  constructor(options: InProcessSchedulerOptions = {}) {
    this.historyLimit = options.historyLimit ?? 100;
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'scheduler' });
  }

  async register(name: string, handler: JobHandler, options: JobOptions = {}): Promise<void> {
    this.assertOpen();
    validateJobName(name);
    validateJobOptions(options, name);
    if (typeof handler !== 'function') throw new InvalidArgumentError(`Handler of job "${name}" must be a function`, { name });
    const existing = this.jobs.get(name);
    const resolved = { attempts: options.attempts ?? 1, backoffMs: options.backoffMs ?? 1000 };
    if (existing) {
      existing.handler = handler;
      existing.options = resolved;
      return;
    }
    this.jobs.set(name, {
      name,
      handler,
      options: resolved,
      repeat: null,
      timer: undefined,
      cron: undefined,
      nextRunAt: null,
      running: undefined,
      waiting: undefined,
      history: [],
    });
  }

  async setRepeat(name: string, repeat: Repeat): Promise<void> {
    const job = this.job(name);
    validateRepeat(repeat, name);
    // Checked by validateRepeat, so it cannot fail now.
    const cron = 'cron' in repeat ? new Cron(repeat.cron, { timezone: repeat.timezone, paused: true, unref: true }) : undefined;
    this.stopRepeat(job);
    job.repeat = { ...repeat };
    if (cron) {
      job.cron = cron;
      cron.schedule(() => {
        job.nextRunAt = cron.nextRun()?.getTime() ?? null;
        this.enqueue(job, 'schedule', null);
      });
      cron.resume();
      job.nextRunAt = cron.nextRun()?.getTime() ?? null;
    } else {
      const everyMs = (repeat as { everyMs: number }).everyMs;
      // Chained timeouts, not setInterval: an interval longer than MAX_TIMER_MS would fire every 1 ms.
      const arm = (): void => {
        const delay = Math.min(Math.max(0, (job.nextRunAt ?? 0) - Date.now()), MAX_TIMER_MS);
        const timer = setTimeout(() => {
          if (Date.now() >= (job.nextRunAt ?? 0)) {
            job.nextRunAt = Date.now() + everyMs;
            this.enqueue(job, 'schedule', null);
          }
          // Unless the repeat was removed or replaced meanwhile (a handler may do so as it starts).
          if (job.timer === timer) arm();
        }, delay);
        timer.unref();
        job.timer = timer;
      };
      job.nextRunAt = Date.now() + everyMs;
      arm();
    }
    this.logger.info({ job: name, repeat, nextRunAt: job.nextRunAt && new Date(job.nextRunAt).toISOString() }, 'scheduled');
  }

  async removeRepeat(name: string): Promise<void> {
    const job = this.job(name);
    this.stopRepeat(job);
  }

  async trigger(name: string, data: JsonValue = null): Promise<JobRun> {
    return copy(this.enqueue(this.job(name), 'manual', data));
  }

  async getRun(id: string): Promise<JobRun | undefined> {
    this.assertOpen();
    const run = this.runs.get(id);
    return run && copy(run);
  }

  async listRuns(options: { name?: string; limit?: number } = {}): Promise<JobRun[]> {
    this.assertOpen();
    const jobs = options.name === undefined ? [...this.jobs.values()] : [this.job(options.name)];
    const runs = jobs
      .flatMap((job) => [job.waiting, job.running, ...job.history])
      .filter((run): run is JobRun => run !== undefined)
      .sort((a, b) => b.createdAt - a.createdAt || runNumber(b) - runNumber(a));
    return runs.slice(0, options.limit ?? runs.length).map(copy);
  }

  async status(name: string): Promise<JobStatus> {
    const job = this.job(name);
    return {
      name,
      repeat: job.repeat && { ...job.repeat },
      nextRunAt: job.nextRunAt,
      running: job.running ? copy(job.running) : null,
      waiting: job.waiting ? copy(job.waiting) : null,
      lastFinished: job.history[0] ? copy(job.history[0]) : null,
    };
  }

  async waitForRun(id: string, timeoutMs = 60_000): Promise<JobRun> {
    this.assertOpen();
    const run = this.runs.get(id);
    if (!run) throw new UnknownJobError(`Unknown job run "${id}"`, { id });
    if (run.state === 'completed' || run.state === 'failed') return copy(run);
    return new Promise<JobRun>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TimeoutError(`Job run "${id}" did not finish within ${timeoutMs} ms`, { context: { id, timeoutMs } }));
      }, timeoutMs);
      const waiters = this.finishWaiters.get(id) ?? [];
      waiters.push((finished) => {
        clearTimeout(timer);
        resolve(copy(finished));
      });
      this.finishWaiters.set(id, waiters);
    });
  }

  close(): Promise<void> {
    // Every call, not only the first, waits until the running handlers have returned.
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    for (const job of this.jobs.values()) {
      this.stopRepeat(job);
      if (job.waiting) {
        this.finish(job, job.waiting, { state: 'failed', error: 'cancelled: the scheduler closed' });
        job.waiting = undefined;
      }
    }
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Queues a run unless one is already waiting, and starts it if none is running. */
  private enqueue(job: Job, trigger: JobTrigger, data: JsonValue): JobRun {
    this.assertOpen();
    if (job.waiting) return job.waiting;
    const run: JobRun = {
      // Safe in a URL path as it is (job names hold only URL-safe characters); the number follows the last '.'.
      id: `${job.name}.${this.nextRunNumber++}`,
      name: job.name,
      trigger,
      state: 'waiting',
      progress: { percent: 0 },
      data: structuredClone(data),
      attempts: 0,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      result: null,
      error: null,
    };
    this.runs.set(run.id, run);
    job.waiting = run;
    if (!job.running) this.startNext(job);
    return run;
  }

  private startNext(job: Job): void {
    const run = job.waiting;
    if (!run || this.closed) return;
    job.waiting = undefined;
    job.running = run;
    const execution = this.execute(job, run).finally(() => {
      this.inFlight.delete(execution);
      job.running = undefined;
      this.startNext(job);
    });
    this.inFlight.add(execution);
  }

  private async execute(job: Job, run: JobRun): Promise<void> {
    run.state = 'running';
    run.startedAt = Date.now();
    const signal = this.abort.signal;
    for (;;) {
      run.attempts++;
      try {
        const result = await job.handler({
          runId: run.id,
          name: run.name,
          data: structuredClone(run.data),
          trigger: run.trigger,
          signal,
          reportProgress: async (progress) => {
            run.progress = normalizeProgress(progress);
          },
        });
        run.progress = { ...run.progress, percent: 100 };
        this.finish(job, run, { state: 'completed', result: result ?? null });
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn({ job: job.name, run: run.id, attempt: run.attempts, err: error }, 'job attempt failed');
        if (run.attempts >= job.options.attempts || signal.aborted) {
          this.finish(job, run, { state: 'failed', error: message });
          return;
        }
        const delay = job.options.backoffMs * 2 ** (run.attempts - 1);
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) {
          // Closed during the backoff: no further attempt.
          this.finish(job, run, { state: 'failed', error: message });
          return;
        }
      }
    }
  }

  private finish(job: Job, run: JobRun, outcome: Pick<JobRun, 'state'> & Partial<Pick<JobRun, 'result' | 'error'>>): void {
    run.state = outcome.state;
    run.result = outcome.result ?? null;
    run.error = outcome.error ?? null;
    run.finishedAt = Date.now();
    job.history.unshift(run);
    for (const dropped of job.history.splice(this.historyLimit)) this.runs.delete(dropped.id);
    for (const resolve of this.finishWaiters.get(run.id) ?? []) resolve(run);
    this.finishWaiters.delete(run.id);
  }

  private stopRepeat(job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    job.cron?.stop();
    job.timer = undefined;
    job.cron = undefined;
    job.repeat = null;
    job.nextRunAt = null;
  }

  private job(name: string): Job {
    this.assertOpen();
    validateJobName(name);
    const job = this.jobs.get(name);
    if (!job) throw new UnknownJobError(`No job "${name}" is registered`, { name });
    return job;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The scheduler');
  }
}

function copy(run: JobRun): JobRun {
  return structuredClone(run);
}
