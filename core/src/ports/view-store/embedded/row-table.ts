import { deepFreeze, type JsonValue } from '../../../records/json.js';
import type { RowFilter, ViewRow } from '../view-store.js';

/** Rows of one slice or batch version: key → window start → state. */
export class RowTable {
  private readonly rows = new Map<string, Map<number, JsonValue>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Stores states frozen: readers share them, and a mistaken write to one fails instead of corrupting the table. */
  upsert(rows: Iterable<ViewRow>): void {
    for (const { key, windowStart, state } of rows) {
      deepFreeze(state);
      let windows = this.rows.get(key);
      if (!windows) this.rows.set(key, (windows = new Map()));
      if (!windows.has(windowStart)) this.count++;
      windows.set(windowStart, state);
    }
  }

  /** The matching rows, ordered by key then window start. States are the stored (frozen) objects. */
  select(filter: RowFilter = {}): ViewRow[] {
    const from = filter.windowFrom ?? Number.NEGATIVE_INFINITY;
    const to = filter.windowTo ?? Number.POSITIVE_INFINITY;
    const keys = filter.keys ? [...new Set(filter.keys)] : [...this.rows.keys()];
    const result: ViewRow[] = [];
    for (const key of keys.sort()) {
      const windows = this.rows.get(key);
      if (!windows) continue;
      const starts = [...windows.keys()].filter((start) => start >= from && start < to).sort((a, b) => a - b);
      for (const windowStart of starts) result.push({ key, windowStart, state: windows.get(windowStart)! });
    }
    return result;
  }

  *entries(): Generator<ViewRow> {
    for (const [key, windows] of this.rows) {
      for (const [windowStart, state] of windows) yield { key, windowStart, state };
    }
  }
}
