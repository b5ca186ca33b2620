/**
 * The fan-out on BullMQ: a recompute adds one job per partition task to the `recompute-partitions`
 * queue, and waits for each (QueueEvents and `job.waitUntilFinished`, with a timeout) while partition
 * workers, in this process or any other on the same Redis, run them. A job is retried by BullMQ with
 * exponential backoff; one that fails every attempt fails the run. Results are small (row counts,
 * newest record time): the rows themselves travel through the lake.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConnectionError, PlatformError, TimeoutError, silentLogger, type Logger } from '@lambda/common';
import { PARTITION_QUEUE, openPartitionQueueRedis, type BullmqPartitionConnection } from './bullmq-partition-queue.js';
import type { PartitionFanOut } from './partition-fan-out.js';
import type { PartitionResult, PartitionTask } from './partition-query.js';

export interface BullmqPartitionFanOutOptions extends BullmqPartitionConnection {
  /** Attempts per partition job, the first included. Default 3. */
  attempts?: number;
  /** The wait before a job's second attempt; each later one doubles. Default 1000 ms. */
  backoffMs?: number;
  /** How long a run waits for each partition job before failing. Default 30 min. */
  timeoutMs?: number;
  logger?: Logger;
}

/** Finished jobs kept in Redis for inspection, per queue. */
const KEEP_FINISHED = { age: 24 * 3600, count: 1000 };

export class BullmqPartitionFanOut implements PartitionFanOut {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly queue: Queue<PartitionTask, PartitionResult>,
    private readonly events: QueueEvents,
    private readonly connections: Redis[],
    private readonly options: BullmqPartitionFanOutOptions,
    private readonly logger: Logger,
  ) {}

  /** Connects to Redis and listens to the queue's events. */
  static async open(options: BullmqPartitionFanOutOptions): Promise<BullmqPartitionFanOut> {
    const logger = (options.logger ?? silentLogger()).child({ ns: 'partition-fan-out' });
    const commands = await openPartitionQueueRedis(options, 'fail-fast');
    let listening: Redis | undefined;
    try {
      // QueueEvents blocks on its connection: it needs one of its own.
      listening = await openPartitionQueueRedis(options, 'blocking');
      const queue = new Queue<PartitionTask, PartitionResult>(PARTITION_QUEUE, { connection: commands, prefix: options.prefix });
      const events = new QueueEvents(PARTITION_QUEUE, { connection: listening, prefix: options.prefix });
      queue.on('error', (error: Error) => logger.warn({ err: error }, 'partition queue error'));
      events.on('error', (error: Error) => logger.warn({ err: error }, 'partition queue events error'));
      // Each job waited for listens for the queue closing: a run over many partitions has many listeners.
      queue.setMaxListeners(0);
      await events.waitUntilReady();
      return new BullmqPartitionFanOut(queue, events, [commands, listening], options, logger);
    } catch (error) {
      commands.disconnect();
      listening?.disconnect();
      throw error;
    }
  }

  async run(tasks: readonly PartitionTask[], onTaskDone: (done: number, total: number) => void = () => undefined): Promise<PartitionResult[]> {
    const { attempts = 3, backoffMs = 1000, timeoutMs = 30 * 60_000 } = this.options;
    const jobs = await this.queue
      .addBulk(
        tasks.map((task) => ({
          name: `${task.view}.v${task.version}.p${task.partition}`,
          data: task,
          opts: { attempts, backoff: { type: 'exponential', delay: backoffMs }, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
        })),
      )
      .catch((error: unknown) => {
        // The commands connection fails fast: what fails here is Redis being away.
        throw new ConnectionError(`Could not queue the partition jobs of view "${tasks[0]?.view}": ${(error as Error).message}`, { cause: error });
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
      Promise.race([job.waitUntilFinished(this.events, timeoutMs) as Promise<PartitionResult>, abandoned[i]!.promise]).then(
        (result) => {
          finished.add(i);
          onTaskDone(++done, jobs.length);
          return result;
        },
        (error: unknown) => {
          finished.add(i);
          throw this.failure(tasks[i]!, job, error, timeoutMs);
        },
      ),
    );
    try {
      return await Promise.all(waits);
    } catch (error) {
      // Spare the workers the jobs nobody waits for any more; those already running finish first, so
      // none writes its partial after the run has deleted the partials.
      for (const [i, job] of jobs.entries()) {
        if (finished.has(i)) continue;
        const removed = await this.queue.remove(job.id!).catch(() => 0);
        if (removed === 1) abandoned[i]!.reject(new Error('removed'));
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

  private failure(task: PartitionTask, job: Job, error: unknown, timeoutMs: number): PlatformError {
    const reason = error instanceof Error ? error.message : String(error);
    const context = { view: task.view, version: task.version, partition: task.partition, job: job.id };
    if (/timed out before finishing/.test(reason)) {
      return new TimeoutError(`Partition ${task.partition} of view "${task.view}" did not finish within ${timeoutMs} ms`, { cause: error, context });
    }
    this.logger.warn({ ...context, reason }, 'a partition job failed');
    return new PlatformError(`Partition ${task.partition} of view "${task.view}" failed: ${reason}`, { cause: error, context });
  }
}
