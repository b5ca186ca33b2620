/**
 * What a window operation remembers: one entry per recent batch (its records, or its per-key reduction),
 * for as many batches as the window reaches back. A batch's entry is staged while the batch runs and kept
 * only when it commits, so a failed batch tried again does not count twice.
 */
import type { JsonValue } from '@lambda/core';
import type { StatefulNode } from './stream-graph.js';

export class BatchHistory<E> implements StatefulNode {
  private committed = new Map<number, E>();
  private staged: { index: number; entry: E } | undefined;

  /** `retain`: how many batches back, counting the newest, entries are still needed. */
  constructor(private readonly retain: number) {}

  stage(index: number, entry: E): void {
    this.staged = { index, entry };
  }

  /** Entries of batches with `from < index <= to`, oldest first, the staged one included. */
  range(from: number, to: number): E[] {
    const entries: E[] = [];
    for (let index = Math.max(from + 1, 0); index <= to; index++) {
      const entry = this.staged?.index === index ? this.staged.entry : this.committed.get(index);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  commit(): void {
    if (!this.staged) return;
    const { index, entry } = this.staged;
    this.committed.set(index, entry);
    for (const old of this.committed.keys()) if (old <= index - this.retain) this.committed.delete(old);
    this.staged = undefined;
  }

  abort(): void {
    this.staged = undefined;
  }

  snapshot(): JsonValue {
    return [...this.committed].map(([index, entry]) => [index, entry as JsonValue]);
  }

  restore(snapshot: JsonValue): void {
    this.committed = new Map((snapshot as [number, E][]).map(([index, entry]) => [index, entry]));
  }
}
