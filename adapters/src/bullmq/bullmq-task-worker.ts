/**
 * A partition worker: takes partition tasks from the `recompute-partitions` queue and runs each in its
 * own DuckDB (a connection per task), writing the partial rows to the lake. Every batch-layer process runs
 * one; batch-worker processes run only this, so a recompute spreads over as many machines as run them.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '@lambda/common';
import { PARTITION_QUEUE, openPartitionQueueRedis, type BullmqPartitionConnection } from './bullmq-partition-queue.js';
import { PartitionQuery, type PartitionQueryOptions, type PartitionResult, type PartitionTask } from './partition-query.js';

export interface BullmqPartitionWorkerOptions extends BullmqPartitionConnection, Omit<PartitionQueryOptions, 'logger'> {
  /** Tasks run at once. Default 1. */
  concurrency?: number;
  logger?: Logger;
}

/** How long a worker waits before asking Redis again after a failed call (Redis away). */
const RUN_RETRY_DELAY_MS = 500;

export class BullmqPartitionWorker {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker<PartitionTask, PartitionResult>,
    private readonly connection: Redis,
    readonly name: string,
  ) {}

  /** Connects to Redis and starts taking tasks. */
  static async open(options: BullmqPartitionWorkerOptions): Promise<BullmqPartitionWorker> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'partition-worker' });
    const query = new PartitionQuery({ ...options, logger });
    const connection = await openPartitionQueueRedis(options, 'blocking');
    const worker = new Worker<PartitionTask, PartitionResult>(PARTITION_QUEUE, (job) => query.run(job.data), {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 1,
      runRetryDelay: RUN_RETRY_DELAY_MS,
      name: query.worker,
    });
    worker.on('error', (error) => logger.warn({ err: error }, 'partition worker error'));
    worker.on('failed', (job, error) =>
      logger.warn({ err: error, view: job?.data.view, partition: job?.data.partition, attempt: job?.attemptsMade }, 'partition task failed'),
    );
    logger.info({ worker: query.worker, concurrency: options.concurrency ?? 1 }, 'taking partition tasks');
    return new BullmqPartitionWorker(worker, connection, query.worker);
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
