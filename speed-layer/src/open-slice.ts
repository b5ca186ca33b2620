/**
 * The slice a view is filling on one partition: aggregate state per (key, window) over the partition's
 * records from `start` to `end`. Rows changed since the last write are marked dirty, so each micro-batch
 * writes only those, with their absolute state.
 */
import type { CompiledView, Evaluation, RowState, Slice, ViewRow } from '@lambda/common';

interface SliceRow {
  key: string;
  windowStart: number;
  state: RowState;
}

export class OpenSlice {
  private readonly rows = new Map<string, SliceRow>();
  private readonly dirty = new Set<SliceRow>();
  /** Micro-batches that added records since the slice opened, for the cut policy. */
  microBatches = 0;

  constructor(
    readonly view: CompiledView,
    readonly partition: number,
    readonly start: number,
    public end: number,
    public newestRecordAt: number | null,
    /** When the slice opened (wall clock), for the cut policy. */
    readonly openedAt: number,
  ) {}

  /** Rebuilds the open slice a previous process wrote. */
  static restore(view: CompiledView, slice: Slice, rows: ViewRow[], now: number): OpenSlice {
    const open = new OpenSlice(view, slice.partition, slice.start, slice.end, slice.newestRecordAt, now);
    for (const row of rows) {
      const state = view.fromJson(row.state as Parameters<CompiledView['fromJson']>[0]);
      open.rows.set(rowId(row.key, row.windowStart), { key: row.key, windowStart: row.windowStart, state });
    }
    return open;
  }

  add(evaluation: Evaluation): void {
    for (const windowStart of evaluation.windowStarts) {
      const id = rowId(evaluation.key, windowStart);
      let row = this.rows.get(id);
      if (!row) this.rows.set(id, (row = { key: evaluation.key, windowStart, state: this.view.createState() }));
      this.view.accumulate(row.state, evaluation.inputs);
      this.dirty.add(row);
    }
  }

  /** Notes the log timestamp of a record read into the slice, for freshness. */
  saw(timestamp: number): void {
    if (this.newestRecordAt === null || timestamp > this.newestRecordAt) this.newestRecordAt = timestamp;
  }

  get isEmpty(): boolean {
    return this.end === this.start;
  }

  toSlice(closed: boolean): Slice {
    return { view: this.view.name, partition: this.partition, start: this.start, end: this.end, closed, newestRecordAt: this.newestRecordAt };
  }

  /** The rows changed since the last call, with absolute state. */
  takeDirtyRows(): ViewRow[] {
    const rows = [...this.dirty].map((row) => ({ key: row.key, windowStart: row.windowStart, state: this.view.toJson(row.state) }));
    this.dirty.clear();
    return rows;
  }
}

function rowId(key: string, windowStart: number): string {
  return `${windowStart}\u0000${key}`;
}
