/**
 * The slice a view is filling on one partition: aggregate state per (key, window) over the partition's
 * records from `start` to `end`. Rows changed since the last write are marked dirty, so each micro-batch
 * writes only those, with their absolute state.
 */
import type { CompiledView, RowState, Slice, SourceRow, ViewRow } from '@lambda/core';

interface SliceRow {
  key: string;
  windowStart: number;
  state: RowState;
  dirty: boolean;
}

export class OpenSlice {
  /** Key → window start → row: two lookups by value, no key string built per record. */
  private readonly rows = new Map<string, Map<number, SliceRow>>();
  /**
   * The windows of the key asked for last. A record asks for its key's row in every window it falls in
   * (ten for a ten-minute window sliding by the minute) with the very same key string, which `===`
   * answers without hashing and comparing the key in the map each time.
   */
  private lastKey: string | undefined = undefined;
  private lastWindows: Map<number, SliceRow> | undefined = undefined;
  private dirty: SliceRow[] = [];
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
      open.row(row.key, row.windowStart, state);
    }
    return open;
  }

  /** Folds a decoded record into the rows it falls in, marking them dirty; false when the view leaves it out. */
  fold(record: SourceRow): boolean {
    return this.view.fold(record, this.stateFor);
  }

  private readonly stateFor = (key: string, windowStart: number): RowState => {
    const row = this.row(key, windowStart);
    if (!row.dirty) {
      row.dirty = true;
      this.dirty.push(row);
    }
    return row.state;
  };

  private row(key: string, windowStart: number, restored?: RowState): SliceRow {
    let windows = this.lastWindows;
    if (key !== this.lastKey || !windows) {
      windows = this.rows.get(key);
      if (!windows) this.rows.set(key, (windows = new Map()));
      this.lastKey = key;
      this.lastWindows = windows;
    }
    let row = windows.get(windowStart);
    if (!row) windows.set(windowStart, (row = { key, windowStart, state: restored ?? this.view.createState(), dirty: false }));
    return row;
  }

  /** Notes the log timestamp of a record the slice counts, for freshness. */
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
    const rows = this.dirty.map((row) => {
      row.dirty = false;
      return { key: row.key, windowStart: row.windowStart, state: this.view.toJson(row.state) };
    });
    this.dirty = [];
    return rows;
  }
}

