/**
 * Runs micro-batches one after another: every `intervalMs`, or at once while a backlog remains. Batches
 * never overlap, and stopping lets the batch in flight finish (and commit) before it resolves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';

export interface MicroBatchResult {
  /** True when the batch stopped at a read limit: the next one starts without waiting. */
  backlog: boolean;
}

export class MicroBatchLoop {
  private running: Promise<void> | undefined;
  private wake: AbortController | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  /** Micro-batches failed in a row, for the backoff. */
  private failures = 0;

  constructor(
    private readonly run: () => Promise<MicroBatchResult>,
    private readonly options: {
      intervalMs: number;
      logger: Logger;
      /** The wait after a first failure; it doubles with each failure in a row, up to `maxRetryDelayMs`. Default 1 s. */
      retryDelayMs?: number;
      /** Default 30 s. */
      maxRetryDelayMs?: number;
    },
  ) {}

  /** Runs one micro-batch now, after any in flight. */
  runOnce(): Promise<MicroBatchResult> {
    const result = this.tail.then(this.run, this.run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  start(): void {
    if (this.running) return;
    this.wake = new AbortController();
    this.running = this.loop(this.wake.signal);
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /** Stops after the micro-batch in flight has finished and committed. */
  async stop(): Promise<void> {
    this.wake?.abort();
    await this.running;
    await this.tail;
    this.running = undefined;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      let backlog: boolean;
      try {
        backlog = (await this.runOnce()).backlog;
        this.failures = 0;
      } catch (error) {
        const delayMs = this.backoff(++this.failures);
        // One line per failure; the stack only at debug, or a failure every second floods the log.
        this.options.logger.warn({ error: (error as Error).message, failuresInARow: this.failures, retryInMs: delayMs }, 'micro-batch failed; retrying');
        this.options.logger.debug({ err: error }, 'micro-batch failure');
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (backlog) continue;
      const wait = this.options.intervalMs - (performance.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Exponential, with jitter over its upper half, so processes that failed together do not retry in step. */
  private backoff(failures: number): number {
    const ceiling = Math.min((this.options.retryDelayMs ?? 1000) * 2 ** (failures - 1), this.options.maxRetryDelayMs ?? 30_000);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
}
