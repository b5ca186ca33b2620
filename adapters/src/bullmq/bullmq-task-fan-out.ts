/**
 * The fan-out side of a BullMQ task queue: a run adds one job per task and waits for each (QueueEvents and
 * `job.waitUntilFinished`, with a timeout) while workers, in this process or any other on the same Redis,
 * run them. A job is retried by BullMQ with exponential backoff; one that fails every attempt fails the
 * run. Results should be small (the batch layer's carry row counts; the rows travel through the lake).
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConnectionError, PlatformError, TimeoutError, silentLogger, type Logger } from '@lambda/core';
import { openTaskQueueRedis, type BullmqTaskQueueConnection, type TaskDescription } from './bullmq-task-queue.js';

export interface BullmqTaskFanOutOptions<Task> extends BullmqTaskQueueConnection {
  /** How each task shows in job names, errors and logs. */
  describe: (task: Task) => TaskDescription;
  /** Attempts per job, the first included. Default 3. */
  attempts?: number;
  /** The wait before a job's second attempt; each later one doubles. Default 1000 ms. */
  backoffMs?: number;
  /** How long a run waits for each job before failing. Default 30 min. */
  timeoutMs?: number;
  logger?: Logger;
}

/** Finished jobs kept in Redis for inspection, per queue. */
const KEEP_FINISHED = { age: 24 * 3600, count: 1000 };

export class BullmqTaskFanOut<Task extends object, Result> {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly queue: Queue<Task, Result>,
    private readonly events: QueueEvents,
    private readonly connections: Redis[],
    private readonly options: BullmqTaskFanOutOptions<Task>,
    private readonly logger: Logger,
  ) {}

  /** Connects to Redis and listens to the queue's events. */
  static async open<Task extends object, Result>(options: BullmqTaskFanOutOptions<Task>): Promise<BullmqTaskFanOut<Task, Result>> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'task-fan-out', queue: options.queue });
    const commands = await openTaskQueueRedis(options, 'fail-fast');
    let listening: Redis | undefined;
    try {
      // QueueEvents blocks on its connection: it needs one of its own.
      listening = await openTaskQueueRedis(options, 'blocking');
      const queue = new Queue<Task, Result>(options.queue, { connection: commands, prefix: options.prefix });
      const events = new QueueEvents(options.queue, { connection: listening, prefix: options.prefix });
      queue.on('error', (error: Error) => logger.warn({ err: error }, 'task queue error'));
      events.on('error', (error: Error) => logger.warn({ err: error }, 'task queue events error'));
      // Each job waited for listens for the queue closing: a run over many tasks has many listeners.
      queue.setMaxListeners(0);
      await events.waitUntilReady();
      return new BullmqTaskFanOut(queue, events, [commands, listening], options, logger);
    } catch (error) {
      commands.disconnect();
      listening?.disconnect();
      throw error;
    }
  }

  /** Runs every task on some worker and returns their results in task order, calling `onTaskDone` as each completes. */
  async run(tasks: readonly Task[], onTaskDone: (done: number, total: number) => void = () => undefined): Promise<Result[]> {
    const { attempts = 3, backoffMs = 1000, timeoutMs = 30 * 60_000, describe } = this.options;
    if (tasks.length === 0) return [];
    const jobs = await this.queue
      .addBulk(
        tasks.map((task) => ({
          name: describe(task).jobName,
          data: task,
          opts: { attempts, backoff: { type: 'exponential', delay: backoffMs }, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
        })) as Parameters<Queue<Task, Result>['addBulk']>[0],
      )
      .catch((error: unknown) => {
        // The commands connection fails fast: what fails here is Redis being away.
        throw new ConnectionError(`Could not queue the jobs of ${describe(tasks[0]!).run}: ${(error as Error).message}`, { cause: error });
      });
    let done = 0;
    // A job removed from the queue after another failed never finishes: its wait is abandoned.
    const abandoned = jobs.map(() => {
      let reject: (error: Error) => void = () => undefined;
      const promise = new Promise<never>((_, rejectWith) => (reject = rejectWith));
      return { promise, reject };
    });
    const finished = new Set<number>();
    const waits = jobs.map((job, i) =>
      Promise.race([job.waitUntilFinished(this.events, timeoutMs) as Promise<Result>, abandoned[i]!.promise]).then(
        (result) => {
          finished.add(i);
          onTaskDone(++done, jobs.length);
          return result;
        },
        (error: unknown) => {
          finished.add(i);
          throw this.failure(describe(tasks[i]!), job, error, timeoutMs);
        },
      ),
    );
    try {
      return await Promise.all(waits);
    } catch (error) {
      // Spare the workers the jobs nobody waits for any more; those already running finish first, so
      // none writes its output after the run has cleaned up.
      for (const [i, job] of jobs.entries()) {
        if (finished.has(i)) continue;
        const removed = await this.queue.remove(job.id!).catch(() => 0);
        if (removed === 1) abandoned[i]!.reject(new PlatformError('removed from the queue after another job failed'));
      }
      await Promise.allSettled(waits);
      throw error;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([this.events.close(), this.queue.close()]);
      for (const connection of this.connections) await connection.quit().catch(() => connection.disconnect());
    })();
    return this.closing;
  }

  private failure(task: TaskDescription, job: Job, error: unknown, timeoutMs: number): PlatformError {
    const reason = error instanceof Error ? error.message : String(error);
    const context = { ...task.context, job: job.id };
    if (/timed out before finishing/.test(reason)) {
      return new TimeoutError(`${task.label} did not finish within ${timeoutMs} ms`, { cause: error, context });
    }
    this.logger.warn({ ...context, reason }, 'a job failed');
    return new PlatformError(`${task.label} failed: ${reason}`, { cause: error, context });
  }
}
