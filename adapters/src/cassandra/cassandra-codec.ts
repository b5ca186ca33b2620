/**
 * How view-store values become Cassandra columns and back: states and manifests as JSON text, offsets and
 * times as bigint (read back as the driver's Long), and what reads return frozen, as the port promises.
 */
import { types } from 'cassandra-driver';
import { CorruptDataError, deepFreeze, isJsonObject, type JsonValue, type BatchManifest, type Slice, type ViewRow } from '@lambda/core';

/** Batch rows of one version are spread over this many partitions. Fixed forever: readers derive it too. */
export const BATCH_ROW_BUCKETS = 8;

/** The bucket of a batch row's key: FNV-1a over its UTF-8 bytes, stable across processes and versions. */
export function bucketOfKey(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % BATCH_ROW_BUCKETS;
}

export function encodeState(state: JsonValue): string {
  return JSON.stringify(state);
}

export function decodeState(text: string, where: Record<string, unknown>): JsonValue {
  try {
    return deepFreeze(JSON.parse(text) as JsonValue);
  } catch (error) {
    throw new CorruptDataError(`A stored state is not JSON: ${(error as Error).message}`, where);
  }
}

/** A bigint column as a number; it holds only safe integers, as every value the store writes is one. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value instanceof types.Long) return value.toNumber();
  if (typeof value === 'bigint') return Number(value);
  throw new CorruptDataError(`Expected a stored integer, found ${String(value)}`, {});
}

export function toNullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/** The columns of a slice's metadata, as the static columns of its partition hold them. */
export interface SliceColumns {
  end_offset: unknown;
  closed: unknown;
  newest_record_at: unknown;
  write_id: unknown;
}

/** A slice from its static columns; `undefined` when they were never written (no such slice). */
export function decodeSlice(ref: { view: string; partition: number; start: number }, row: SliceColumns): Slice | undefined {
  if (row.end_offset === null || row.end_offset === undefined) return undefined;
  return {
    view: ref.view,
    partition: ref.partition,
    start: ref.start,
    end: toNumber(row.end_offset),
    closed: row.closed === true,
    newestRecordAt: toNullableNumber(row.newest_record_at),
  };
}

/** The identity of the write a read saw (a uuid's text), to check that several pages saw the same one. */
export function writeIdOf(row: SliceColumns): string {
  return row.write_id === null || row.write_id === undefined ? '' : String(row.write_id);
}

/**
 * Decoded states by their stored text, most recently used last: an unchanged row read again comes back
 * with the same frozen object, so readers can cache what they derive from it (as with the embedded store).
 * Sharing is safe because the objects are frozen and equal text means equal value.
 */
export class StateCache {
  private readonly states = new Map<string, JsonValue>();

  constructor(private readonly maxEntries = 50_000) {}

  decode(text: string, where: Record<string, unknown>): JsonValue {
    const cached = this.states.get(text);
    if (cached !== undefined) {
      this.states.delete(text);
      this.states.set(text, cached);
      return cached;
    }
    const state = decodeState(text, where);
    // Scalars gain nothing from sharing; only objects and arrays are kept.
    if (typeof state === 'object' && state !== null) {
      this.states.set(text, state);
      if (this.states.size > this.maxEntries) this.states.delete(this.states.keys().next().value!);
    }
    return state;
  }

  get size(): number {
    return this.states.size;
  }
}

export interface RowColumns {
  row_key: unknown;
  window_start: unknown;
  state: unknown;
}

export function decodeRow(row: RowColumns, where: Record<string, unknown>, cache?: StateCache): ViewRow {
  const key = row.row_key as string;
  const windowStart = toNumber(row.window_start);
  const text = row.state as string;
  const context = { ...where, key, windowStart };
  return { key, windowStart, state: cache ? cache.decode(text, context) : decodeState(text, context) };
}

/** The port's row order: key (as JavaScript compares strings, like the embedded store), then window start. */
export function compareRows(a: ViewRow, b: ViewRow): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.windowStart - b.windowStart;
}

/**
 * The rows of one write, the last of any (key, window) named twice kept: Cassandra settles two writes of
 * one cell with the same timestamp by comparing values, not by order, so duplicates never reach it.
 */
export function lastRowPerCell(rows: readonly ViewRow[]): ViewRow[] {
  const cells = new Map<string, ViewRow>();
  for (const row of rows) cells.set(`${row.windowStart}\u0000${row.key}`, row);
  return [...cells.values()];
}

export function encodeManifest(manifest: BatchManifest): string {
  const { view, version, horizon, publishedAt, newestRecordAt, stats } = manifest;
  return JSON.stringify(stats === undefined ? { view, version, horizon, publishedAt, newestRecordAt } : { view, version, horizon, publishedAt, newestRecordAt, stats });
}

export function decodeManifest(text: string, view: string): BatchManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptDataError(`The stored manifest of view "${view}" is not JSON: ${(error as Error).message}`, { view });
  }
  if (!isManifestOf(parsed, view)) throw new CorruptDataError(`The stored manifest of view "${view}" is not a manifest of that view`, { view });
  return deepFreeze(parsed);
}

function isManifestOf(value: unknown, view: string): value is BatchManifest {
  return isJsonObject(value) && value.view === view && Number.isSafeInteger(value.version) && Array.isArray(value.horizon);
}
