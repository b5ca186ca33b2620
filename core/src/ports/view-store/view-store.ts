/**
 * The view-store port: where the speed layer keeps its real-time slices and the batch layer its batch
 * view versions, and where the serving layer reads both to merge them.
 *
 * Rows hold aggregate *state* (a monoid value, opaque to the store) per key and event-time window. All
 * writes are absolute values, never increments, so writing the same thing twice changes nothing.
 *
 * What reads return is read-only: an adapter may share it between readers (the embedded one hands out
 * frozen objects), so a write to it throws or is lost, and never reaches the store. An unchanged row
 * read twice may come back as the same object, which lets readers cache what they decode from it.
 */
import type { JsonObject, JsonValue } from '../../records/json.js';

export interface ViewRow {
  key: string;
  /** Start of the row's event-time window, in ms since the epoch; 0 for a view without windows. */
  windowStart: number;
  /** The row's aggregate state. */
  state: JsonValue;
}

/** Names one slice: the real-time state of one view over one partition, from offset `start`. */
export interface SliceRef {
  view: string;
  partition: number;
  start: number;
}

/** A slice covers exactly the partition's records with `start <= offset < end`. */
export interface Slice extends SliceRef {
  end: number;
  /** Cut by the speed layer: no record will be added to it. */
  closed: boolean;
  /** Log timestamp (ms) of the newest record included, for freshness; null while it includes none. */
  newestRecordAt: number | null;
}

/** Which rows a read returns: some keys (or all), and windows starting in `[windowFrom, windowTo)`. */
export interface RowFilter {
  keys?: readonly string[];
  windowFrom?: number;
  windowTo?: number;
}

/** Describes the batch view version that is serving. */
export interface BatchManifest {
  view: string;
  version: number;
  /** Per partition (index = partition): the version covers exactly the records with offset below this. */
  horizon: number[];
  publishedAt: number;
  /** Log timestamp (ms) of the newest record covered, for freshness; null when it covers none. */
  newestRecordAt: number | null;
  /** Facts about the run that built it (rows, records, duration...). */
  stats?: JsonObject;
}

export interface ViewStore {
  /**
   * Replaces a slice's metadata and upserts rows of it, atomically: a reader sees the slice before the
   * write or after it, never rows of one with the edges of the other. Rows not named keep their state.
   */
  putSlice(slice: Slice, rows: readonly ViewRow[]): Promise<void>;
  /** A view's slices, ordered by partition then start. */
  listSlices(view: string): Promise<Slice[]>;
  /** A slice with its rows matching `filter`, read atomically; undefined if it does not exist (any more). */
  readSlice(ref: SliceRef, filter?: RowFilter): Promise<{ slice: Slice; rows: ViewRow[] } | undefined>;
  deleteSlices(refs: readonly SliceRef[]): Promise<void>;

  /** Upserts rows of a batch version that is being built; invisible to `readManifest` until published. */
  putBatchRows(view: string, version: number, rows: readonly ViewRow[]): Promise<void>;
  /**
   * Makes `manifest.version` the serving version of its view, in one atomic switch. Versions only move
   * forward: publishing a version at or below the serving one is a ConflictError.
   */
  publishBatchVersion(manifest: BatchManifest): Promise<void>;
  readManifest(view: string): Promise<BatchManifest | undefined>;
  /** Rows of a batch version matching `filter`, ordered by key then window. */
  readBatchRows(view: string, version: number, filter?: RowFilter): Promise<ViewRow[]>;
  /** Versions with stored rows or a manifest, ascending. */
  listBatchVersions(view: string): Promise<number[]>;
  /** Deletes a version's rows; deleting the serving version is a ConflictError. */
  deleteBatchVersion(view: string, version: number): Promise<void>;

  /** Views with any slice or batch version. */
  listViews(): Promise<string[]>;
  close(): Promise<void>;
}
