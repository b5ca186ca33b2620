/**
 * updateStateByKey's state: one value per key, carried from batch to batch. Every batch calls the update
 * function for every key that has state or new values (as Spark does); returning undefined deletes the key.
 * The new state is staged and replaces the old one only when the batch commits.
 */
import type { JsonValue } from '@lambda/core';
import { KeyedMap } from './keyed-map.js';
import type { StatefulNode } from './stream-graph.js';

export type UpdateStateFunction<V, S> = (values: V[], state: S | undefined) => S | undefined;

export class StateByKey<K, V, S> implements StatefulNode {
  private state = new KeyedMap<K, S>();
  private staged: KeyedMap<K, S> | undefined;

  constructor(private readonly update: UpdateStateFunction<V, S>) {}

  addBatch(pairs: readonly (readonly [K, V])[]): [K, S][] {
    const grouped = new KeyedMap<K, V[]>();
    for (const [key, value] of pairs) {
      const values = grouped.get(key);
      if (values) values.push(value);
      else grouped.set(key, [value]);
    }
    const next = new KeyedMap<K, S>();
    for (const [key, state] of this.state) {
      const updated = this.update(grouped.get(key) ?? [], state);
      if (updated !== undefined) next.set(key, updated);
    }
    for (const [key, values] of grouped) {
      if (this.state.has(key)) continue;
      const created = this.update(values, undefined);
      if (created !== undefined) next.set(key, created);
    }
    this.staged = next;
    return next.toPairs();
  }

  commit(): void {
    if (this.staged) this.state = this.staged;
    this.staged = undefined;
  }

  abort(): void {
    this.staged = undefined;
  }

  snapshot(): JsonValue {
    return this.state.toPairs() as JsonValue;
  }

  restore(snapshot: JsonValue): void {
    this.state = KeyedMap.from(snapshot as [K, S][]);
  }
}
