/** Polling for an engine to answer, bounded in time and given up at once if the engine's process dies. */
import { setTimeout as sleep } from 'node:timers/promises';
import { PlatformError } from '@lambda/core';

export interface WaitOptions {
  /** What is awaited, for the timeout's message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between attempts: when false, waiting stops with an error. */
  stillAlive?: () => boolean;
}

/** Calls `probe` until it resolves, and returns what it resolved to. */
export async function waitUntil<T>(probe: () => Promise<T>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (options.stillAlive && !options.stillAlive()) throw new PlatformError(`${options.what}: the process exited`);
    if (Date.now() >= deadline) {
      throw new PlatformError(`${options.what}: no answer within ${options.timeoutMs / 1000} s (last: ${(lastError as Error)?.message ?? String(lastError)})`);
    }
    await sleep(options.intervalMs ?? 500);
  }
}
