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

  constructor(
    private readonly run: () => Promise<MicroBatchResult>,
    private readonly options: { intervalMs: number; logger: Logger; retryDelayMs?: number },
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
      } catch (error) {
        this.options.logger.error({ err: error }, 'micro-batch failed; retrying');
        await sleep(this.options.retryDelayMs ?? 1000, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (backlog) continue;
      const wait = this.options.intervalMs - (performance.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }
}
