/**
 * reduceByKeyAndWindow's state. Each batch is reduced per key once and remembered; at each slide the
 * window's value per key is either recomputed from the remembered batches, or (given an inverse function)
 * derived from the previous window: add the batches that entered, "subtract" the batches that left.
 * Per key it also counts the records in the window, so a key whose records have all left is dropped, and
 * the incremental result equals a recompute of the window from scratch (for an exact inverse).
 */
import type { JsonValue } from '@lambda/core';
import { BatchHistory } from './batch-history.js';
import { KeyedMap } from './keyed-map.js';
import type { StatefulNode } from './stream-graph.js';
import type { WindowSpec } from './window-spec.js';

/** One key's reduction over some records, and how many records that was. */
type Reduced<V> = { value: V; count: number };
/** A batch reduced per key: `[key, value, count]`. */
type BatchEntry<K, V> = [K, V, number][];

export class KeyedWindowReducer<K, V> implements StatefulNode {
  private readonly history: BatchHistory<BatchEntry<K, V>>;
  private window: { index: number; values: KeyedMap<K, Reduced<V>> } | undefined;
  private stagedWindow: { index: number; values: KeyedMap<K, Reduced<V>> } | undefined;

  constructor(
    private readonly spec: WindowSpec,
    private readonly reduce: (a: V, b: V) => V,
    private readonly inverse: ((a: V, b: V) => V) | undefined,
  ) {
    // The inverse needs the batches that left since the previous window: one slide more than the window.
    this.history = new BatchHistory(spec.lengthBatches + spec.slideBatches);
  }

  /** Remembers one batch's pairs; at a slide batch returns the window's `[key, value]` pairs. */
  addBatch(index: number, pairs: readonly (readonly [K, V])[], slide: boolean): [K, V][] | undefined {
    const reduced = new KeyedMap<K, Reduced<V>>();
    for (const [key, value] of pairs) reduced.merge(key, { value, count: 1 }, (a, b) => ({ value: this.reduce(a.value, b.value), count: a.count + b.count }));
    this.history.stage(index, [...reduced].map(([key, { value, count }]) => [key, value, count]));
    if (!slide) return undefined;

    const { lengthBatches: length, slideBatches: slideBy } = this.spec;
    const incremental = this.inverse !== undefined && slideBy < length && this.window?.index === index - slideBy;
    const values = incremental ? this.window!.values.clone() : new KeyedMap<K, Reduced<V>>();
    const entering = incremental ? this.history.range(index - slideBy, index) : this.history.range(index - length, index);
    for (const entry of entering) {
      for (const [key, value, count] of entry) {
        values.merge(key, { value, count }, (a, b) => ({ value: this.reduce(a.value, b.value), count: a.count + b.count }));
      }
    }
    if (incremental) {
      for (const entry of this.history.range(index - slideBy - length, index - length)) {
        for (const [key, value, count] of entry) {
          const current = values.get(key);
          if (current === undefined) continue;
          if (current.count <= count) values.delete(key);
          else values.set(key, { value: this.inverse!(current.value, value), count: current.count - count });
        }
      }
    }
    this.stagedWindow = { index, values };
    return [...values].map(([key, { value }]) => [key, value]);
  }

  commit(): void {
    this.history.commit();
    if (this.stagedWindow) this.window = this.stagedWindow;
    this.stagedWindow = undefined;
  }

  abort(): void {
    this.history.abort();
    this.stagedWindow = undefined;
  }

  snapshot(): JsonValue {
    return {
      history: this.history.snapshot(),
      window: this.window ? { index: this.window.index, values: [...this.window.values].map(([key, r]) => [key, r.value, r.count]) } : null,
    } as JsonValue;
  }

  restore(snapshot: JsonValue): void {
    const { history, window } = snapshot as { history: JsonValue; window: { index: number; values: [K, V, number][] } | null };
    this.history.restore(history);
    this.window = window
      ? { index: window.index, values: KeyedMap.from(window.values.map(([key, value, count]) => [key, { value, count }] as const)) }
      : undefined;
  }
}
