/**
 * The BullMQ queue of partition tasks, `recompute-partitions` under the scheduler's key prefix, and the
 * Redis connections its two sides open. As in the BullMQ scheduler: the side adding jobs fails fast while
 * Redis is away (a run fails and the previous version keeps serving); workers and the event listener wait
 * through an outage (`maxRetriesPerRequest: null`, which BullMQ requires of blocking connections).
 */
import type { Redis } from 'ioredis';
import { InvalidArgumentError, openRedis, type RedisConnectionKind } from '@lambda/common';

export const PARTITION_QUEUE = 'recompute-partitions';

export interface BullmqPartitionConnection {
  /** The Redis to use: `redis://[user:password@]host[:port][/db]`. */
  redisUrl: string;
  /** Prefix of every Redis key: the scheduler's, so one deployment's keys stay together. */
  prefix: string;
  /** How long opening waits for Redis before failing with a ConnectionError. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** Opens a connection for commands (`'fail-fast'`) or for blocking reads (`'blocking'`), connected. */
export async function openPartitionQueueRedis(options: BullmqPartitionConnection, kind: RedisConnectionKind): Promise<Redis> {
  if (typeof options.prefix !== 'string' || options.prefix === '') {
    throw new InvalidArgumentError(`Invalid key prefix ${JSON.stringify(options.prefix)}: give a non-empty string`, { prefix: options.prefix });
  }
  return openRedis(options.redisUrl, kind, options.connectTimeoutMs);
}
