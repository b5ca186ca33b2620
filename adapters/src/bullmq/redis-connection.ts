/**
 * The Redis connections BullMQ users open, as BullMQ recommends: a *fail-fast* one for commands and
 * queues (no offline queue, so a call while Redis is away fails at once with a retriable error) and a
 * *blocking* one for workers and event listeners (`maxRetriesPerRequest: null`, which BullMQ requires of
 * them; they wait through an outage and resume).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { ConnectionError, InvalidArgumentError, TimeoutError } from '@lambda/core';

export type RedisConnectionKind = 'fail-fast' | 'blocking';

/** Opens a connection of `kind` to `redisUrl`, connected within `connectTimeoutMs` or a ConnectionError. */
export async function openRedis(redisUrl: string, kind: RedisConnectionKind, connectTimeoutMs = 5000): Promise<Redis> {
  const url = parseRedisUrl(redisUrl);
  const settings: RedisOptions = {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000),
    ...(kind === 'fail-fast' ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null }),
  };
  const redis = new Redis(redisUrl, settings);
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  try {
    await Promise.race([
      redis.connect(),
      sleep(connectTimeoutMs, undefined, { ref: false }).then(() => {
        throw new TimeoutError(`no connection within ${connectTimeoutMs} ms${lastError ? ` (${lastError.message})` : ''}`);
      }),
    ]);
  } catch (error) {
    redis.disconnect();
    throw new ConnectionError(`Redis at ${url.host} is unreachable: ${(error as Error).message}`, {
      cause: error,
      context: { host: url.hostname, port: Number(url.port || 6379) },
    });
  }
  return redis;
}

/** A `redis:` or `rediss:` URL, or an InvalidArgumentError naming it. */
export function parseRedisUrl(redisUrl: string): URL {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch (error) {
    throw new InvalidArgumentError(`Invalid Redis URL ${JSON.stringify(redisUrl)}: ${(error as Error).message}`, { redisUrl });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InvalidArgumentError(`Invalid Redis URL ${JSON.stringify(redisUrl)}: the scheme must be redis: or rediss:`, { redisUrl });
  }
  return url;
}

/** A Redis URL without its password, for logs and status pages. */
export function redactPassword(url: string | URL): string {
  const copy = new URL(url);
  if (copy.password) copy.password = '***';
  return copy.toString();
}
