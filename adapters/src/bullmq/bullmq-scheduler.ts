/**
 * (Over 400 lines: one adapter of one port; its parts share the queues and the run bookkeeping.)
 *
 * The scheduler on BullMQ (Redis): every job name is a queue with a global concurrency of one, so one run
 * at a time across every process; schedules are BullMQ job schedulers whose ticks trigger the job the
 * way a manual trigger does (so at most one run waits, whoever asked); status and history are read from
 * Redis, so any process (the serving layer) sees the runs that another (the batch layer) executes.
 *
 * A handler runs only in the processes that registered it: a run triggered elsewhere waits in Redis
 * until such a worker takes it. Attempts are retried inside one BullMQ attempt, not through BullMQ's own
 * retries: a BullMQ retry leaves the active slot while it backs off, which would let the run waiting
 * behind start in between.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ClosedError,
  ConnectionError,
  InvalidArgumentError,
  PlatformError,
  TimeoutError,
  UnknownJobError,
  silentLogger,
  type Logger,
  type JsonValue,
  type JobHandler,
  type JobOptions,
  type JobRun,
  type JobState,
  type JobStatus,
  type JobTrigger,
  type Repeat,
  type Scheduler,
  normalizeProgress,
  runNumber,
  validateJobName,
  validateJobOptions,
  validateRepeat,
} from '@lambda/core';
import {
  bullJobId,
  parseRunId,
  runNumberOfBullJob,
  runState,
  storedProgress,
  toJobRun,
  type StoredProgress,
  type StoredRunData,
} from './job-run-mapper.js';
import { openRedis, parseRedisUrl, redactPassword } from './redis-connection.js';

export interface BullmqSchedulerOptions {
  /** The Redis to use: `redis://[user:password@]host[:port][/db]`. */
  redisUrl: string;
  /** Prefix of every Redis key, one per deployment, so several platforms can share one Redis. */
  prefix: string;
  /** Finished runs kept per job (completed and failed each). Default 100. */
  historyLimit?: number;
  /** How long `open` waits for Redis before failing with a ConnectionError. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** How often `waitForRun` looks at the run. Default 50 ms. */
  pollIntervalMs?: number;
  logger?: Logger;
}

interface Registration {
  handler: JobHandler;
  options: Required<JobOptions>;
  worker: Worker;
}

/** The tick queue's job data: which job a schedule triggers. */
interface TickData {
  job: string;
}

/**
 * A job's next run number, set first to the given clock reading: run ids then stay unique even across a
 * Redis that lost its data, so a client polling an old run id never sees another run under it.
 */
const NEXT_RUN_NUMBER = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  current = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], current)
end
return current`;

/** Raises a job's next run number past `n` (never lowers it), so a started run's number is never reused. */
const BUMP_RUN_NUMBER = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local next = tonumber(ARGV[2]) + 1
if current < next then redis.call('HSET', KEYS[1], ARGV[1], next) end
return next`;

/** How long a worker waits before retrying a Redis call that failed for want of a connection. */
const RUN_RETRY_DELAY_MS = 500;

/** Queue names and scheduler ids may not hold ':', which job names may; '~' is never in a job name. */
function queueName(name: string): string {
  return name.replaceAll(':', '~');
}

const TICK_QUEUE = '~ticks';

/** What ioredis throws when Redis is away: a closed connection, or a command refused while offline. */
function isConnectionFailure(error: unknown): boolean {
  const { message, code, name } = (error ?? {}) as { message?: string; code?: string; name?: string };
  return (
    name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND/.test(`${code ?? ''} ${message ?? ''}`)
  );
}

/**
 * Two connections, as BullMQ recommends: commands and queues fail fast while Redis is away (no offline
 * queue), so a trigger answers at once with a retriable error; workers wait through an outage
 * (`maxRetriesPerRequest: null`, which BullMQ requires of them) and resume when Redis is back.
 */
interface RedisConnections {
  commands: Redis;
  workers: Redis;
}

export class BullmqScheduler implements Scheduler {
  private readonly registrations = new Map<string, Registration>();
  /** The schedules set from here, put back if Redis comes back empty. */
  private readonly repeats = new Map<string, Repeat>();
  private readonly queues = new Map<string, Queue>();
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly historyLimit: number;
  private readonly pollIntervalMs: number;
  private readonly keys: { jobs: string; repeats: string; runNumbers: string };
  private tickWorker: Worker | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly connections: RedisConnections,
    private readonly options: BullmqSchedulerOptions,
  ) {
    this.logger = (options.logger ?? silentLogger()).child({ ns: 'scheduler' });
    this.historyLimit = options.historyLimit ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    const base = `${options.prefix}:~scheduler`;
    this.keys = { jobs: `${base}:jobs`, repeats: `${base}:repeats`, runNumbers: `${base}:run-numbers` };
  }

  /** Connects to Redis and starts the worker that turns schedule ticks into runs. */
  static async open(options: BullmqSchedulerOptions): Promise<BullmqScheduler> {
    if (typeof options.prefix !== 'string' || options.prefix === '') {
      throw new InvalidArgumentError(`Invalid scheduler key prefix ${JSON.stringify(options.prefix)}: give a non-empty string`, {
        prefix: options.prefix,
      });
    }
    const url = parseRedisUrl(options.redisUrl);
    const opened = await Promise.allSettled([
      openRedis(options.redisUrl, 'fail-fast', options.connectTimeoutMs),
      openRedis(options.redisUrl, 'blocking', options.connectTimeoutMs),
    ]);
    const failed = opened.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      for (const outcome of opened) if (outcome.status === 'fulfilled') outcome.value.disconnect();
      throw failed.reason;
    }
    const [commands, workers] = opened.map((outcome) => (outcome as PromiseFulfilledResult<Redis>).value) as [Redis, Redis];
    const connections: RedisConnections = { commands, workers };
    const scheduler = new BullmqScheduler(connections, options);
    scheduler.startTickWorker();
    // 'ready' again after a reconnect: Redis may have come back empty.
    connections.commands.on('ready', () => scheduler.restoreAfterReconnect());
    connections.commands.on('error', (error: Error) => scheduler.logger.warn({ err: error, redisUrl: redactPassword(url) }, 'lost the connection to Redis; reconnecting'));
    return scheduler;
  }

  async register(name: string, handler: JobHandler, options: JobOptions = {}): Promise<void> {
    this.assertOpen();
    validateJobName(name);
    validateJobOptions(options, name);
    if (typeof handler !== 'function') throw new InvalidArgumentError(`Handler of job "${name}" must be a function`, { name });
    const resolved = { attempts: options.attempts ?? 1, backoffMs: options.backoffMs ?? 1000 };
    await this.redis('register a job', async () => {
      await this.client.hset(this.keys.jobs, { [name]: JSON.stringify(resolved) });
      await this.queue(name).setGlobalConcurrency(1);
    });
    const existing = this.registrations.get(name);
    if (existing) {
      existing.handler = handler;
      existing.options = resolved;
      return;
    }
    const worker = new Worker(queueName(name), (job) => this.process(name, job), {
      connection: this.connections.workers,
      prefix: this.options.prefix,
      concurrency: 1,
      runRetryDelay: RUN_RETRY_DELAY_MS,
    });
    worker.on('error', (error) => this.logger.warn({ job: name, err: error }, 'job worker error'));
    this.registrations.set(name, { handler, options: resolved, worker });
  }

  async setRepeat(name: string, repeat: Repeat): Promise<void> {
    this.assertOpen();
    validateJobName(name);
    validateRepeat(repeat, name);
    await this.requireKnown(name);
    const copy: Repeat = { ...repeat };
    await this.redis('set a schedule', () => this.writeRepeat(name, copy));
    this.repeats.set(name, copy);
    this.logger.info({ job: name, repeat }, 'scheduled');
  }

  async removeRepeat(name: string): Promise<void> {
    this.assertOpen();
    validateJobName(name);
    await this.requireKnown(name);
    this.repeats.delete(name);
    await this.redis('remove a schedule', async () => {
      await this.tickQueue().removeJobScheduler(queueName(name));
      await this.client.hdel(this.keys.repeats, name);
    });
  }

  async trigger(name: string, data: JsonValue = null): Promise<JobRun> {
    this.assertOpen();
    validateJobName(name);
    await this.requireKnown(name);
    return this.enqueue(name, 'manual', data);
  }

  async getRun(id: string): Promise<JobRun | undefined> {
    this.assertOpen();
    const parsed = typeof id === 'string' ? parseRunId(id) : undefined;
    if (!parsed) return undefined;
    try {
      validateJobName(parsed.name);
    } catch {
      return undefined;
    }
    return this.redis('read a run', async () => {
      const read = await this.readJob(this.queue(parsed.name), bullJobId(parsed.runNumber));
      return read && toJobRun(parsed.name, read.job, read.state);
    });
  }

  async listRuns(options: { name?: string; limit?: number } = {}): Promise<JobRun[]> {
    this.assertOpen();
    const names = options.name === undefined ? await this.redis('list jobs', () => this.knownJobs()) : [await this.requireKnown(options.name)];
    const runs = (await Promise.all(names.map((name) => this.runsOf(name)))).flat();
    runs.sort((a, b) => b.createdAt - a.createdAt || runNumber(b) - runNumber(a));
    return runs.slice(0, options.limit ?? runs.length);
  }

  async status(name: string): Promise<JobStatus> {
    this.assertOpen();
    validateJobName(name);
    await this.requireKnown(name);
    return this.redis('read a job status', async () => {
      const queue = this.queue(name);
      const [storedRepeat, scheduler, active, waiting, completed, failed] = await Promise.all([
        this.client.hget(this.keys.repeats, name),
        this.tickQueue().getJobScheduler(queueName(name)),
        queue.getJobs(['active'], 0, 0),
        // Oldest first: the one that runs next.
        queue.getJobs(['wait', 'prioritized'], 0, 0, true),
        queue.getJobs(['completed'], 0, 0),
        queue.getJobs(['failed'], 0, 0),
      ]);
      const finished = [
        ...completed.map((job) => toJobRun(name, job, 'completed')),
        ...failed.map((job) => toJobRun(name, job, 'failed')),
      ].sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
      const repeat = storedRepeat === null ? null : (JSON.parse(storedRepeat) as Repeat);
      return {
        name,
        repeat,
        nextRunAt: repeat === null ? null : (scheduler?.next ?? null),
        running: active[0] ? toJobRun(name, active[0], 'running') : null,
        waiting: waiting[0] ? toJobRun(name, waiting[0], 'waiting') : null,
        lastFinished: finished[0] ?? null,
      };
    });
  }

  async waitForRun(id: string, timeoutMs = 60_000): Promise<JobRun> {
    this.assertOpen();
    const deadline = Date.now() + timeoutMs;
    let run = await this.getRun(id);
    if (!run) throw new UnknownJobError(`Unknown job run "${id}"`, { id });
    while (run.state !== 'completed' && run.state !== 'failed') {
      if (Date.now() >= deadline) throw new TimeoutError(`Job run "${id}" did not finish within ${timeoutMs} ms`, { context: { id, timeoutMs } });
      await sleep(Math.min(this.pollIntervalMs, Math.max(0, deadline - Date.now())));
      this.assertOpen();
      run = (await this.getRun(id)) ?? run;
    }
    return run;
  }

  close(): Promise<void> {
    // Every call, not only the first, waits until the running handlers have returned.
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    const workers = [...this.registrations.values()].map((registration) => registration.worker);
    if (this.tickWorker) workers.push(this.tickWorker);
    // A worker's close waits for its running handler, which has just been asked to stop.
    await Promise.allSettled(workers.map((worker) => worker.close()));
    await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
    for (const connection of Object.values(this.connections)) await connection.quit().catch(() => connection.disconnect());
  }

  /** Adds a run unless one is already waiting, which is then the answer (triggers are deduplicated). */
  private async enqueue(name: string, trigger: JobTrigger, data: JsonValue): Promise<JobRun> {
    const token = randomUUID();
    const payload: StoredRunData = { trigger, data: structuredClone(data), token };
    return this.redis('trigger a job', async () => {
      const queue = this.queue(name);
      // A few rounds at most: each one that finds the waiting slot taken by a started run moves past it.
      for (let round = 0; round < 10; round++) {
        const next = Number(await this.client.eval(NEXT_RUN_NUMBER, 1, this.keys.runNumbers, name, Date.now()));
        const jobId = bullJobId(next);
        await queue.add(name, payload, {
          jobId,
          attempts: 1,
          removeOnComplete: { count: this.historyLimit },
          removeOnFail: { count: this.historyLimit },
        });
        const read = await this.readJob(queue, jobId);
        // Ours (whatever became of it since), or another trigger's run still waiting.
        if (read && ((read.job.data as StoredRunData).token === token || read.state === 'waiting')) return toJobRun(name, read.job, read.state);
        await this.bumpRunNumber(name, next);
      }
      throw new PlatformError(`Could not queue a run of job "${name}": the runs keep starting before a trigger sees them`, {
        retriable: true,
        context: { name },
      });
    });
  }

  /** Runs a job's handler in this process, with the attempts and backoff it was registered with. */
  private async process(name: string, job: Job): Promise<JsonValue> {
    const registration = this.registrations.get(name)!;
    const number = runNumberOfBullJob(job.id);
    if (number !== undefined) await this.bumpRunNumber(name, number);
    const stored = job.data as StoredRunData;
    const signal = this.abort.signal;
    const progress: StoredProgress = { ...storedProgress(job.progress), attempts: 0 };
    const save = async (): Promise<void> => {
      // Progress is for people watching: a Redis blip must not fail the run over it.
      await job.updateProgress({ ...progress }).catch((error: unknown) => this.logger.warn({ job: name, err: error }, 'could not save progress'));
    };
    for (;;) {
      progress.attempts++;
      await save();
      const { handler, options } = registration;
      try {
        const result = await handler({
          runId: toJobRun(name, job, 'running').id,
          name,
          data: structuredClone(stored.data ?? null),
          trigger: stored.trigger,
          signal,
          reportProgress: async (value) => {
            Object.assign(progress, normalizeProgress(value));
            if (typeof value === 'number') delete progress.message;
            await save();
          },
        });
        progress.percent = 100;
        await save();
        return result ?? null;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn({ job: name, run: job.id, attempt: progress.attempts, err: error }, 'job attempt failed');
        if (progress.attempts >= options.attempts || signal.aborted) throw new PlatformError(message, { cause: error });
        await sleep(options.backoffMs * 2 ** (progress.attempts - 1), undefined, { signal }).catch(() => undefined);
        // Closed during the backoff: no further attempt.
        if (signal.aborted) throw new PlatformError(message, { cause: error });
      }
    }
  }

  private startTickWorker(): void {
    const worker = new Worker<TickData>(
      TICK_QUEUE,
      async (tick) => {
        // BullMQ runs an interval schedule's first tick at once; the contract's first run is one interval on.
        const repeat = (tick.opts as { repeat?: { every?: number; count?: number } }).repeat;
        if (repeat?.every !== undefined && repeat.count === 1) return;
        await this.enqueue(tick.data.job, 'schedule', null);
      },
      { connection: this.connections.workers, prefix: this.options.prefix, concurrency: 1, runRetryDelay: RUN_RETRY_DELAY_MS },
    );
    worker.on('error', (error) => this.logger.warn({ err: error }, 'schedule worker error'));
    this.tickWorker = worker;
  }

  /** A Redis that restarted empty lost the registrations and schedules: put back this process's own. */
  private restoreAfterReconnect(): void {
    if (this.closed) return;
    const restore = async (): Promise<void> => {
      for (const [name, registration] of this.registrations) {
        await this.client.hset(this.keys.jobs, { [name]: JSON.stringify(registration.options) });
        await this.queue(name).setGlobalConcurrency(1);
      }
      for (const [name, repeat] of this.repeats) {
        // Only if gone: upserting again would move the next run of a schedule that survived.
        if (!(await this.tickQueue().getJobScheduler(queueName(name)))) await this.writeRepeat(name, repeat);
      }
    };
    restore().then(
      () => this.logger.info({ jobs: this.registrations.size, schedules: this.repeats.size }, 'reconnected to Redis'),
      (error: unknown) => this.logger.warn({ err: error }, 'could not restore jobs and schedules after reconnecting'),
    );
  }

  private async writeRepeat(name: string, repeat: Repeat): Promise<void> {
    const options = 'everyMs' in repeat ? { every: repeat.everyMs } : { pattern: repeat.cron, ...(repeat.timezone === undefined ? {} : { tz: repeat.timezone }) };
    await this.tickQueue().upsertJobScheduler(queueName(name), options, {
      name: 'tick',
      data: { job: name },
      opts: { removeOnComplete: true, removeOnFail: 100 },
    });
    await this.client.hset(this.keys.repeats, { [name]: JSON.stringify(repeat) });
  }

  private async runsOf(name: string): Promise<JobRun[]> {
    return this.redis('list runs', async () => {
      const queue = this.queue(name);
      const groups = [
        ['running', ['active']],
        ['waiting', ['wait', 'prioritized']],
        ['completed', ['completed']],
        ['failed', ['failed']],
      ] as const;
      const listed = await Promise.all(groups.map(async ([state, types]) => (await queue.getJobs([...types])).map((job) => toJobRun(name, job, state))));
      // A run that moved between two reads shows once, in its later state.
      const byId = new Map<string, JobRun>();
      for (const run of listed.flat()) byId.set(run.id, run);
      return [...byId.values()];
    });
  }

  /**
   * A job and its state, consistent with each other: the state is read first, so the job's fields are at
   * least as new (a run read as completed has its result); a run that finished in between reads again.
   */
  private async readJob(queue: Queue, jobId: string): Promise<{ job: Job; state: JobState } | undefined> {
    for (let read = 1; ; read++) {
      const state = runState(await queue.getJobState(jobId));
      const job = await Job.fromId(queue, jobId);
      if (!job || !state) return undefined;
      if (read >= 3 || (state === 'completed' || state === 'failed') === Boolean(job.finishedOn)) return { job, state };
    }
  }

  private async bumpRunNumber(name: string, started: number): Promise<void> {
    await this.client.eval(BUMP_RUN_NUMBER, 1, this.keys.runNumbers, name, started);
  }

  private async knownJobs(): Promise<string[]> {
    return Object.keys(await this.client.hgetall(this.keys.jobs)).sort();
  }

  private async requireKnown(name: string): Promise<string> {
    validateJobName(name);
    const known = await this.redis('look up a job', () => this.client.hexists(this.keys.jobs, name));
    if (!known) throw new UnknownJobError(`No job "${name}" is registered`, { name });
    return name;
  }

  /** The fail-fast connection, for this adapter's own commands. */
  private get client(): Redis {
    return this.connections.commands;
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name === TICK_QUEUE ? TICK_QUEUE : queueName(name), { connection: this.connections.commands, prefix: this.options.prefix });
      queue.on('error', (error) => this.logger.warn({ job: name, err: error }, 'queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private tickQueue(): Queue {
    return this.queue(TICK_QUEUE);
  }

  /** Runs a Redis operation, turning a lost connection into a retriable ConnectionError. */
  private async redis<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof PlatformError) throw error;
      if (this.closed) throw new ClosedError('The scheduler');
      if (isConnectionFailure(error)) {
        throw new ConnectionError(`Could not ${what}: Redis at ${redactPassword(this.options.redisUrl)} is unreachable (${(error as Error).message})`, {
          cause: error,
          context: { redisUrl: redactPassword(this.options.redisUrl) },
        });
      }
      throw new PlatformError(`Could not ${what}: ${(error as Error).message}`, { cause: error });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The scheduler');
  }
}

