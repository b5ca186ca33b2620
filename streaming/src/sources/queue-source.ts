/**
 * A queue of arrays, for tests and demos: each poll takes the next array (Spark's `queueStream` with
 * `oneAtATime`). The position is how many arrays have been taken, so a restart from a checkpoint skips
 * them, as long as the queue is built again with the same arrays.
 */
import { InvalidArgumentError, type JsonValue } from '@lambda/core';
import type { SourceBatch, StreamSource } from './stream-source.js';

export class QueueSource<T> implements StreamSource<T> {
  readonly description = 'queue';
  private readonly arrays: T[][];
  private taken = 0;

  constructor(arrays: readonly (readonly T[])[] = []) {
    this.arrays = arrays.map((array) => [...array]);
  }

  /** Adds an array to the end of the queue; it is taken by a later poll. */
  push(records: readonly T[]): void {
    this.arrays.push([...records]);
  }

  /** Arrays not taken yet. */
  get remaining(): number {
    return this.arrays.length - this.taken;
  }

  async start(from?: JsonValue): Promise<void> {
    if (from === undefined || from === null) return;
    if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0) {
      throw new InvalidArgumentError(`A queue position must be a count of arrays taken, got ${JSON.stringify(from)}`, { position: from });
    }
    this.taken = from;
  }

  async poll(): Promise<SourceBatch<T>> {
    const records = this.taken < this.arrays.length ? this.arrays[this.taken++]! : [];
    return { records: [...records], position: this.taken };
  }

  async commit(): Promise<void> {
    // Nothing to release: the arrays are in memory.
  }

  async stop(): Promise<void> {}
}
