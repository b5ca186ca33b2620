/**
 * The running aggregation of a structured query: a row state per (key, window), folded by the view
 * machinery (`CompiledView.fold`, the speed layer's own hot path), and the event-time watermark.
 *
 * Watermark rules (Spark's, checked against Spark 4 by infra/test/spark-structured-parity.test.ts): the
 * watermark is (max event time seen) minus the delay, computed at the end of each batch, and never goes
 * back. Batch n closes (emits in append mode, evicts) the windows that end at or before the watermark of
 * batch n-1's end, and drops a record's contribution to a window only when the window had closed before
 * batch n-1 (Spark's separate watermark for late events, which lets a record that arrives with the
 * batch that closes its window still count). A record all of whose windows are closed counts as one late
 * row. When the watermark moved in the last batch and no data comes, a batch without data runs, so that
 * what it closed is emitted (`watermarkMoved`). In complete mode nothing is dropped or evicted: the whole
 * result table is output every batch, so every window must stay.
 */
import { type JsonValue, compareCodePoints, type SourceRow, type CompiledView, type RowState } from '@lambda/core';

export interface StateRow {
  key: string;
  windowStart: number;
  state: RowState;
}

export interface AggregationStateJson {
  rows: { key: string; windowStart: number; state: JsonValue }[];
  watermark: number | null;
  /** The watermark late records are checked against; absent in checkpoints of older versions. */
  lateWatermark?: number | null;
  maxEventTime: number | null;
}

export interface AggregationStateOptions {
  /** Window length in ms; 0 for an aggregation without an event-time window. */
  windowSizeMs: number;
  /** The watermark delay; undefined without a watermark. */
  watermarkDelayMs: number | undefined;
  /** Whether late records are dropped and closed windows evicted (not in complete mode). */
  evictClosed: boolean;
}

export interface FoldResult {
  /** Ids of the rows this batch changed. */
  touched: Set<string>;
  /** Records dropped because every window they fall in was closed. */
  droppedLate: number;
}

const rowId = (key: string, windowStart: number): string => `${windowStart}\u0000${key}`;

export class AggregationState {
  private readonly rows = new Map<string, StateRow>();
  /** As of the end of the last batch: what the next batch closes windows against. */
  private watermarkMs: number | undefined;
  /** The watermark the last batch closed windows against: what the next batch drops late records against. */
  private lateWatermarkMs: number | undefined;
  private maxEventTimeMs: number | undefined;

  constructor(
    private readonly view: CompiledView,
    private readonly options: AggregationStateOptions,
  ) {}

  get watermark(): number | undefined {
    return this.watermarkMs;
  }

  get maxEventTime(): number | undefined {
    return this.maxEventTimeMs;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Whether the watermark applies: it needs an event-time window to close. */
  private get watermarked(): boolean {
    return this.options.watermarkDelayMs !== undefined && this.options.windowSizeMs > 0;
  }

  fold(records: readonly SourceRow[]): FoldResult {
    const touched = new Set<string>();
    let droppedLate = 0;
    const closedBefore = this.watermarked && this.options.evictClosed ? this.lateWatermarkMs : undefined;
    const scratch = this.view.createState();
    let open = 0;
    let closed = 0;
    const stateFor = (key: string, windowStart: number): RowState => {
      if (closedBefore !== undefined && windowStart + this.options.windowSizeMs <= closedBefore) {
        closed++;
        return scratch;
      }
      open++;
      const id = rowId(key, windowStart);
      touched.add(id);
      let row = this.rows.get(id);
      if (!row) this.rows.set(id, (row = { key, windowStart, state: this.view.createState() }));
      return row.state;
    };
    for (const record of records) {
      if (this.maxEventTimeMs === undefined || record.eventTime > this.maxEventTimeMs) this.maxEventTimeMs = record.eventTime;
      open = 0;
      closed = 0;
      this.view.fold(record, stateFor);
      if (closed > 0 && open === 0) droppedLate++;
    }
    return { touched, droppedLate };
  }

  /**
   * Ends a batch: the watermark it closed windows against becomes the one late records are checked
   * against, and the watermark moves to (max event time seen minus the delay), if that is later.
   */
  endBatch(): void {
    this.lateWatermarkMs = this.watermarkMs;
    if (!this.watermarked || this.maxEventTimeMs === undefined) return;
    const candidate = this.maxEventTimeMs - this.options.watermarkDelayMs!;
    if (this.watermarkMs === undefined || candidate > this.watermarkMs) this.watermarkMs = candidate;
  }

  /** Whether the last batch moved the watermark, so a batch without data would close windows (append and update modes). */
  get watermarkMoved(): boolean {
    return this.watermarked && this.options.evictClosed && this.watermarkMs !== undefined && this.watermarkMs !== this.lateWatermarkMs;
  }

  /** Rows whose window ended at or before the watermark: final, and evictable. */
  closedRows(): StateRow[] {
    const watermark = this.watermarkMs;
    if (!this.watermarked || watermark === undefined) return [];
    return sortRows([...this.rows.values()].filter((row) => row.windowStart + this.options.windowSizeMs <= watermark));
  }

  evict(rows: readonly StateRow[]): void {
    for (const row of rows) this.rows.delete(rowId(row.key, row.windowStart));
  }

  all(): StateRow[] {
    return sortRows([...this.rows.values()]);
  }

  byIds(ids: Iterable<string>): StateRow[] {
    return sortRows([...ids].map((id) => this.rows.get(id)).filter((row): row is StateRow => row !== undefined));
  }

  toJson(): AggregationStateJson {
    return {
      rows: this.all().map((row) => ({ key: row.key, windowStart: row.windowStart, state: this.view.toJson(row.state) })),
      watermark: this.watermarkMs ?? null,
      lateWatermark: this.lateWatermarkMs ?? null,
      maxEventTime: this.maxEventTimeMs ?? null,
    };
  }

  restore(json: AggregationStateJson): void {
    this.rows.clear();
    for (const row of json.rows) {
      this.rows.set(rowId(row.key, row.windowStart), { key: row.key, windowStart: row.windowStart, state: this.view.fromJson(row.state as never) });
    }
    this.watermarkMs = json.watermark ?? undefined;
    this.lateWatermarkMs = json.lateWatermark === undefined ? this.watermarkMs : (json.lateWatermark ?? undefined);
    this.maxEventTimeMs = json.maxEventTime ?? undefined;
  }
}

/** Window start, then key in code-point order: the order every output of an aggregation comes in. */
export function sortRows(rows: StateRow[]): StateRow[] {
  return rows.sort((a, b) => a.windowStart - b.windowStart || compareCodePoints(a.key, b.key));
}
