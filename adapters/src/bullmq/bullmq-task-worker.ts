/**
 * The worker side of a BullMQ task queue: takes jobs and runs each with the handler it was given. The
 * batch layer's processes and batch-worker processes run one over the partition queue, so a recompute
 * spreads over as many machines as run them.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '@lambda/core';
import { openTaskQueueRedis, type BullmqTaskQueueConnection, type TaskDescription } from './bullmq-task-queue.js';

export interface BullmqTaskWorkerOptions<Task> extends BullmqTaskQueueConnection {
  /** The worker's name in BullMQ (which host and process ran a job). */
  name: string;
  /** Tasks run at once. Default 1. */
  concurrency?: number;
  /** How a task shows in logs. */
  describe: (task: Task) => TaskDescription;
  logger?: Logger;
}

/** How long a worker waits before asking Redis again after a failed call (Redis away). */
const RUN_RETRY_DELAY_MS = 500;

export class BullmqTaskWorker<Task extends object, Result> {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker<Task, Result>,
    private readonly connection: Redis,
    readonly name: string,
  ) {}

  /** Connects to Redis and starts running tasks with `handler`. */
  static async open<Task extends object, Result>(options: BullmqTaskWorkerOptions<Task>, handler: (task: Task) => Promise<Result>): Promise<BullmqTaskWorker<Task, Result>> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'task-worker', queue: options.queue });
    const connection = await openTaskQueueRedis(options, 'blocking');
    const worker = new Worker<Task, Result>(options.queue, (job) => handler(job.data), {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 1,
      runRetryDelay: RUN_RETRY_DELAY_MS,
      name: options.name,
    });
    worker.on('error', (error) => logger.warn({ err: error }, 'task worker error'));
    worker.on('failed', (job, error) => logger.warn({ err: error, ...(job ? options.describe(job.data).context : {}), attempt: job?.attemptsMade }, 'task failed'));
    logger.info({ worker: options.name, concurrency: options.concurrency ?? 1 }, 'taking tasks');
    return new BullmqTaskWorker(worker, connection, options.name);
  }

  /** Stops taking tasks and waits for the running ones to finish. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker.close();
      await this.connection.quit().catch(() => this.connection.disconnect());
    })();
    return this.closing;
  }
}
