/**
 * The shared Redis that tests use (`REDIS_URL`, by default the local one): whether it answers, and
 * removing what a test left under its own key prefix.
 */
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Undefined when Redis answers PING within a second; otherwise why the tests that need it are skipped. */
export async function redisSkipReason(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? undefined : `Redis at ${url} did not answer PING`;
  } catch (error) {
    return `Redis at ${url} is unreachable (${(error as Error).message})`;
  } finally {
    client.disconnect();
  }
}

/** Every key under `prefix:`. */
export async function keysUnder(prefix: string, url = REDIS_URL): Promise<string[]> {
  const client = new Redis(url);
  try {
    const keys: string[] = [];
    for await (const batch of client.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) keys.push(...batch);
    return keys;
  } finally {
    await client.quit();
  }
}

/** Deletes every key under `prefix:`; resolves with how many there were. */
export async function removeKeysUnder(prefix: string, url = REDIS_URL): Promise<number> {
  const keys = await keysUnder(prefix, url);
  if (keys.length === 0) return 0;
  const client = new Redis(url);
  try {
    return await client.del(...keys);
  } finally {
    await client.quit();
  }
}
