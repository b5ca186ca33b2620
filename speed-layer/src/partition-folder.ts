/**
 * The speed layer's per-partition core: the open slices of every view of one topic partition. It folds
 * records into them and proposes the slice writes that make the fold durable; the proposal's ends take
 * effect only when `settle` says the writes landed. Folding goes on meanwhile, past the proposal: a
 * proposal's rows are copies of the states (see `OpenSlice.takeDirtyRows`), so what is folded next
 * changes nothing in writes on their way; it goes into the next proposal. It runs in the main thread or
 * in a worker thread: everything it takes and returns is plain data.
 */
import { PlatformError, type CompiledSource, type CompiledView, type LogRecord, type Slice, type ViewRow } from '@lambda/core';
import { OpenSlice } from './open-slice.js';
import { shouldCut, type SlicePolicy } from './slice-policy.js';

/** A view's open slice as the store holds it: its edges, and its rows when it is still open. */
export interface RestoredSlice {
  view: string;
  start: number;
  end: number;
  newestRecordAt: number | null;
  rows: ViewRow[];
  /** Offsets of this partition quarantined for the view: it skips them (see `Quarantine`). */
  quarantined?: number[];
}

/** A record that is not a valid event, for the dead-letter topic. */
export interface InvalidRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer>;
  reason: string;
}

export interface SliceWrite {
  slice: Slice;
  /** Rows changed since the slice's last write, with absolute state. */
  rows: ViewRow[];
}

export interface FoldResult {
  partition: number;
  /** Records read, valid or not. */
  records: number;
  /** One past the last record read; null when none was. */
  nextOffset: number | null;
  invalid: InvalidRecord[];
  /** The writes that make this fold durable, then `settle`. */
  writes: SliceWrite[];
}

interface Proposal {
  index: number;
  end: number;
  microBatches: number;
  cut: boolean;
}

export class PartitionFolder {
  /** Undefined until restored: a folder that never learned where its slices stand must not fold. */
  private slices: OpenSlice[] | undefined;
  private proposals: Proposal[] | undefined;
  /** Per view (in `views` order): the offsets it skips, quarantined. */
  private quarantined: Set<number>[] = [];
  /** What the fold under way has gathered, until `propose`. */
  private invalid: InvalidRecord[] = [];
  private folded = 0;
  private nextOffset: number | null = null;

  constructor(
    readonly source: CompiledSource,
    readonly views: readonly CompiledView[],
    readonly partition: number,
    private readonly policy: SlicePolicy,
  ) {}

  /** Replaces every open slice with what the store holds (on start, and after a failed write). */
  restore(restored: readonly RestoredSlice[], now: number): void {
    this.slices = this.views.map((view) => {
      const stored = restored.find((slice) => slice.view === view.name);
      if (!stored) return new OpenSlice(view, this.partition, 0, 0, null, now);
      const slice = { view: view.name, partition: this.partition, start: stored.start, end: stored.end, closed: false, newestRecordAt: stored.newestRecordAt };
      return OpenSlice.restore(view, slice, stored.rows, now);
    });
    this.quarantined = this.views.map((view) => new Set(restored.find((slice) => slice.view === view.name)?.quarantined ?? []));
    this.proposals = undefined;
    this.invalid = [];
    this.folded = 0;
    this.nextOffset = null;
  }

  /** Where to read next: past the last record folded, or the least settled end among the views. */
  get readFrom(): number {
    return this.nextOffset ?? Math.min(...this.restored().map((slice) => slice.end));
  }

  /** Whether it can fold: restored (a proposal waiting for its writes does not stop it). */
  get ready(): boolean {
    return this.slices !== undefined;
  }

  /** Per view, the end of its open slice as last settled: every record below it is in its slices. */
  get ends(): Record<string, number> {
    return Object.fromEntries(this.restored().map((slice) => [slice.view.name, slice.end]));
  }

  private restored(): OpenSlice[] {
    // A worker thread started again after dying has fresh folders: the batch fails, and recovery restores.
    if (!this.slices) throw new PlatformError(`partition ${this.partition} of ${this.source.topic} was not restored from the store`, { context: { topic: this.source.topic, partition: this.partition } });
    return this.slices;
  }

  /** Folds one record (the next after the last folded, from `readFrom` on) into the open slices. */
  foldRecord(record: LogRecord): void {
    const decoded = this.source.decode(record);
    if (!decoded.ok) {
      this.invalid.push({ offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers, reason: decoded.reason });
    } else {
      const slices = this.restored();
      for (let i = 0; i < slices.length; i++) {
        const slice = slices[i]!;
        if (record.offset < slice.end) continue; // already in this view's slices (a view restored ahead)
        if (this.quarantined[i]!.size > 0 && this.quarantined[i]!.has(record.offset)) continue;
        // Freshness counts only what the view counts, as the batch version's does.
        if (slice.fold(decoded.row)) slice.saw(record.timestamp);
      }
    }
    this.folded++;
    this.nextOffset = record.offset + 1;
  }

  /**
   * Ends a fold: proposes the writes that make it durable, for every slice that advanced and every
   * slice the policy cuts now (even without new records).
   */
  propose(now: number): FoldResult {
    if (this.proposals) throw new PlatformError(`partition ${this.partition}: the previous proposal was neither settled nor restored`, { context: { topic: this.source.topic, partition: this.partition } });
    const slices = this.restored();
    const nextOffset = this.nextOffset;
    const proposals: Proposal[] = [];
    const writes: SliceWrite[] = [];
    slices.forEach((slice, index) => {
      const advanced = nextOffset !== null && nextOffset > slice.end;
      const end = advanced ? nextOffset : slice.end;
      const microBatches = slice.microBatches + (advanced ? 1 : 0);
      const cut = shouldCut(this.policy, { microBatches, openedAt: slice.openedAt, isEmpty: end === slice.start }, now);
      if (!advanced && !cut) return;
      proposals.push({ index, end, microBatches, cut });
      writes.push({ slice: { ...slice.toSlice(cut), end }, rows: slice.takeDirtyRows() });
      // Records folded from now on belong to the slice after the cut one: it opens at once, where the
      // cut one ends. Should the write fail, a restore from the store discards it.
      if (cut) slices[index] = new OpenSlice(slice.view, this.partition, end, end, null, now);
    });
    const result: FoldResult = { partition: this.partition, records: this.folded, nextOffset: this.folded > 0 ? nextOffset : null, invalid: this.invalid, writes };
    this.proposals = proposals;
    this.invalid = [];
    this.folded = 0;
    // `nextOffset` stays: folding goes on from there, not from the ends, which move only at `settle`.
    return result;
  }

  /** Folds a whole batch of records: `foldRecord` for each, then `propose`. */
  fold(records: readonly LogRecord[], now: number): FoldResult {
    for (const record of records) this.foldRecord(record);
    return this.propose(now);
  }

  /** The proposed writes landed: move the ends (a cut slice's successor already opened at its end). */
  settle(): void {
    const slices = this.restored();
    for (const { index, end, microBatches, cut } of this.proposals ?? []) {
      if (cut) continue;
      const slice = slices[index]!;
      slice.end = end;
      slice.microBatches = microBatches;
    }
    this.proposals = undefined;
  }
}
