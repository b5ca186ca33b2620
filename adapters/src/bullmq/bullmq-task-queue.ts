/**
 * A BullMQ queue of tasks under the scheduler's key prefix, and the Redis connections its two sides open.
 * As in the BullMQ scheduler: the side adding jobs fails fast while Redis is away (a run fails and the
 * previous version keeps serving); workers and the event listener wait through an outage
 * (`maxRetriesPerRequest: null`, which BullMQ requires of blocking connections). The batch layer fans a
 * recompute's partition queries out over one (infra wires it: the layer knows only its `PartitionFanOut`).
 */
import type { Redis } from 'ioredis';
import { InvalidArgumentError } from '@lambda/core';
import { openRedis, type RedisConnectionKind } from './redis-connection.js';

export interface BullmqTaskQueueConnection {
  /** The Redis to use: `redis://[user:password@]host[:port][/db]`. */
  redisUrl: string;
  /** Prefix of every Redis key: the scheduler's, so one deployment's keys stay together. */
  prefix: string;
  /** The queue's name under the prefix. */
  queue: string;
  /** How long opening waits for Redis before failing with a ConnectionError. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** How a task shows in job names, errors and logs. */
export interface TaskDescription {
  /** The BullMQ job name. */
  jobName: string;
  /** The task in a sentence's subject: `Partition 2 of view "totals"`. */
  label: string;
  /** The run the task belongs to, in "Could not queue the jobs of …". */
  run: string;
  /** Fields for the log line and the error's context. */
  context: Record<string, unknown>;
}

/** Opens a connection for commands (`'fail-fast'`) or for blocking reads (`'blocking'`), connected. */
export async function openTaskQueueRedis(options: BullmqTaskQueueConnection, kind: RedisConnectionKind): Promise<Redis> {
  for (const field of ['prefix', 'queue'] as const) {
    if (typeof options[field] !== 'string' || options[field] === '') {
      throw new InvalidArgumentError(`Invalid ${field} ${JSON.stringify(options[field])}: give a non-empty string`, { [field]: options[field] });
    }
  }
  return openRedis(options.redisUrl, kind, options.connectTimeoutMs);
}
