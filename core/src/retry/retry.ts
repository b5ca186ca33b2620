/**
 * The platform's one retry helper: exponential backoff with full jitter (p-retry underneath), retrying
 * only what may succeed next time. An error says so itself (`PlatformError.retriable`); callers talking
 * to other libraries pass `isRetriable` to classify theirs.
 */
import pRetry from 'p-retry';
import { isRetriable as isRetriablePlatformError } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** The wait before the second attempt; each later wait doubles, up to `maxDelayMs`. Default 100 ms. */
  initialDelayMs?: number;
  /** Default 10 s. */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt. Default: a PlatformError marked retriable. */
  isRetriable?: (error: unknown) => boolean;
  /** Stops retrying (the last error is thrown) once aborted. */
  signal?: AbortSignal;
  /** Logs each failed attempt that will be retried, at warn, naming `operation`. */
  logger?: Logger;
  /** What is being tried, for the log. */
  operation?: string;
}

/** Runs `operation` until it succeeds, a non-retriable error occurs, or the attempts run out. */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const isRetriable = options.isRetriable ?? isRetriablePlatformError;
  return pRetry(operation, {
    retries: Math.max(0, (options.attempts ?? 5) - 1),
    minTimeout: options.initialDelayMs ?? 100,
    maxTimeout: options.maxDelayMs ?? 10_000,
    factor: 2,
    randomize: true,
    signal: options.signal,
    shouldRetry: ({ error }) => isRetriable(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && isRetriable(error)) {
        options.logger?.warn({ err: error, attempt: attemptNumber, retriesLeft }, `${options.operation ?? 'operation'} failed; retrying`);
      }
    },
  });
}
