/**
 * Every CQL statement the Cassandra view store runs, and the plans that turn port arguments into them.
 *
 * Statement text is built once per keyspace from constants; the keyspace (validated as a plain identifier)
 * is the only thing spliced in. Plans bind every value the port is given (views, keys, offsets, states) as
 * a parameter of a prepared statement, so no caller-supplied text ever reaches a statement's text.
 */
import { types } from 'cassandra-driver';
import type { JsonValue, BatchManifest, RowFilter, Slice, SliceRef, ViewRow } from '@lambda/core';
import { BATCH_ROW_BUCKETS, bucketOfKey, encodeManifest, encodeState } from './cassandra-codec.js';
import { validateKeyspace } from './schema.js';

/** One statement to run prepared: constant text and its bound values. */
export interface CqlStatement {
  query: string;
  params: unknown[];
}

/** The most keys one `IN ?` names, so a large filter becomes several modest queries. */
export const MAX_KEYS_PER_QUERY = 100;

const SLICE_COLUMNS = 'end_offset, closed, newest_record_at, write_id';
const ROW_COLUMNS = 'row_key, window_start, state';
const SLICE_PARTITION = 'view_name = ? AND partition_id = ? AND start_offset = ?';
const BATCH_PARTITION = 'view_name = ? AND version = ? AND bucket = ?';
const WINDOW_RANGE = 'window_start >= ? AND window_start < ?';

export type CqlStatementTexts = ReturnType<typeof cqlStatementTexts>;

/** The text of every statement, for one keyspace. */
export function cqlStatementTexts(keyspace: string) {
  const ks = `"${validateKeyspace(keyspace)}"`;
  return Object.freeze({
    writeSliceMetadata: `UPDATE ${ks}.slices SET end_offset = ?, closed = ?, newest_record_at = ?, write_id = ? WHERE ${SLICE_PARTITION}`,
    writeSliceRow: `INSERT INTO ${ks}.slices (view_name, partition_id, start_offset, row_key, window_start, state) VALUES (?, ?, ?, ?, ?, ?)`,
    indexSlice: `INSERT INTO ${ks}.slice_index (view_name, partition_id, start_offset) VALUES (?, ?, ?)`,
    readSliceAll: `SELECT ${SLICE_COLUMNS}, ${ROW_COLUMNS} FROM ${ks}.slices WHERE ${SLICE_PARTITION}`,
    readSliceWindows: `SELECT ${SLICE_COLUMNS}, ${ROW_COLUMNS} FROM ${ks}.slices WHERE ${SLICE_PARTITION} AND ${WINDOW_RANGE} ALLOW FILTERING`,
    readSliceKeys: `SELECT ${SLICE_COLUMNS}, ${ROW_COLUMNS} FROM ${ks}.slices WHERE ${SLICE_PARTITION} AND row_key IN ? AND ${WINDOW_RANGE}`,
    readSliceMetadata: `SELECT DISTINCT view_name, partition_id, start_offset, ${SLICE_COLUMNS} FROM ${ks}.slices WHERE ${SLICE_PARTITION}`,
    listSliceRefs: `SELECT partition_id, start_offset FROM ${ks}.slice_index WHERE view_name = ?`,
    deleteSlice: `DELETE FROM ${ks}.slices WHERE ${SLICE_PARTITION}`,
    unindexSlice: `DELETE FROM ${ks}.slice_index WHERE ${SLICE_PARTITION}`,
    indexBatchVersion: `INSERT INTO ${ks}.batch_versions (view_name, version) VALUES (?, ?)`,
    writeBatchRow: `INSERT INTO ${ks}.batch_rows (view_name, version, bucket, row_key, window_start, state) VALUES (?, ?, ?, ?, ?, ?)`,
    readBatchAll: `SELECT ${ROW_COLUMNS} FROM ${ks}.batch_rows WHERE ${BATCH_PARTITION}`,
    readBatchWindows: `SELECT ${ROW_COLUMNS} FROM ${ks}.batch_rows WHERE ${BATCH_PARTITION} AND ${WINDOW_RANGE} ALLOW FILTERING`,
    readBatchKeys: `SELECT ${ROW_COLUMNS} FROM ${ks}.batch_rows WHERE ${BATCH_PARTITION} AND row_key IN ? AND ${WINDOW_RANGE}`,
    listBatchVersions: `SELECT version FROM ${ks}.batch_versions WHERE view_name = ?`,
    deleteBatchBucket: `DELETE FROM ${ks}.batch_rows WHERE ${BATCH_PARTITION}`,
    unindexBatchVersion: `DELETE FROM ${ks}.batch_versions WHERE view_name = ? AND version = ?`,
    readManifest: `SELECT version, manifest FROM ${ks}.manifests WHERE view_name = ?`,
    // Lightweight transactions: the manifest row only ever moves to a higher version.
    publishOverOlder: `UPDATE ${ks}.manifests SET version = ?, manifest = ? WHERE view_name = ? IF version < ?`,
    publishFirst: `INSERT INTO ${ks}.manifests (view_name, version, manifest) VALUES (?, ?, ?) IF NOT EXISTS`,
    listSliceViews: `SELECT DISTINCT view_name FROM ${ks}.slice_index`,
    listBatchViews: `SELECT DISTINCT view_name FROM ${ks}.batch_versions`,
    listManifestViews: `SELECT view_name FROM ${ks}.manifests`,
  });
}

/** The window bounds of a filter, open ends as the widest bigint values (every windowStart lies inside). */
function windowBounds(filter: RowFilter | undefined): [types.Long, types.Long] {
  return [
    filter?.windowFrom === undefined ? types.Long.MIN_VALUE : types.Long.fromNumber(filter.windowFrom),
    filter?.windowTo === undefined ? types.Long.MAX_VALUE : types.Long.fromNumber(filter.windowTo),
  ];
}

/** True when no row can match `filter`: no keys named, or an empty window range. */
export function matchesNothing(filter: RowFilter | undefined): boolean {
  if (filter?.keys !== undefined && filter.keys.length === 0) return true;
  return filter?.windowFrom !== undefined && filter.windowTo !== undefined && filter.windowFrom >= filter.windowTo;
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** The partition key of a slice, as bound values. */
function sliceKey(ref: SliceRef): unknown[] {
  return [ref.view, ref.partition, types.Long.fromNumber(ref.start)];
}

/**
 * A slice write: the index entry (written first, so a listed slice is never missing from the index), then
 * one single-partition batch holding the metadata and every row, which Cassandra applies atomically and in
 * isolation. `writeId` marks the write for readers that span pages.
 */
export function planSliceWrite(
  s: CqlStatementTexts,
  slice: Slice,
  rows: readonly ViewRow[],
  writeId: types.Uuid,
): { index: CqlStatement; batch: CqlStatement[] } {
  const key = sliceKey(slice);
  const newest = slice.newestRecordAt === null ? null : types.Long.fromNumber(slice.newestRecordAt);
  return {
    index: { query: s.indexSlice, params: key },
    batch: [
      { query: s.writeSliceMetadata, params: [types.Long.fromNumber(slice.end), slice.closed, newest, writeId, ...key] },
      ...rows.map((row) => ({
        query: s.writeSliceRow,
        params: [...key, row.key, types.Long.fromNumber(row.windowStart), encodeState(row.state)],
      })),
    ],
  };
}

/** The metadata of one slice (its static columns): one row, or none when the slice does not exist. */
export function planSliceMetadataRead(s: CqlStatementTexts, ref: SliceRef): CqlStatement {
  return { query: s.readSliceMetadata, params: sliceKey(ref) };
}

/** The queries reading a slice's rows matching `filter` (each row carries the slice's static columns). */
export function planSliceRowReads(s: CqlStatementTexts, ref: SliceRef, filter: RowFilter | undefined): CqlStatement[] {
  const key = sliceKey(ref);
  if (filter?.keys !== undefined) {
    const bounds = windowBounds(filter);
    return chunked([...new Set(filter.keys)], MAX_KEYS_PER_QUERY).map((keys) => ({ query: s.readSliceKeys, params: [...key, keys, ...bounds] }));
  }
  if (filter?.windowFrom !== undefined || filter?.windowTo !== undefined) {
    return [{ query: s.readSliceWindows, params: [...key, ...windowBounds(filter)] }];
  }
  return [{ query: s.readSliceAll, params: key }];
}

export function planSliceList(s: CqlStatementTexts, view: string): CqlStatement {
  return { query: s.listSliceRefs, params: [view] };
}

/** Deletes a slice, then its index entry (so a crash between leaves an entry pointing at nothing, skipped). */
export function planSliceDelete(s: CqlStatementTexts, ref: SliceRef): CqlStatement[] {
  const key = sliceKey(ref);
  return [
    { query: s.deleteSlice, params: key },
    { query: s.unindexSlice, params: key },
  ];
}

/**
 * Staging rows of a batch version: the version's index entry, then per bucket, batches of at most
 * `rowsPerBatch` rows (each batch is one partition).
 */
export function planBatchRowWrites(
  s: CqlStatementTexts,
  view: string,
  version: number,
  rows: readonly ViewRow[],
  rowsPerBatch: number,
): { index: CqlStatement; batches: CqlStatement[][] } {
  const longVersion = types.Long.fromNumber(version);
  const byBucket = new Map<number, ViewRow[]>();
  for (const row of rows) {
    const bucket = bucketOfKey(row.key);
    let list = byBucket.get(bucket);
    if (!list) byBucket.set(bucket, (list = []));
    list.push(row);
  }
  const batches: CqlStatement[][] = [];
  for (const [bucket, bucketRows] of [...byBucket].sort(([a], [b]) => a - b)) {
    for (const chunk of chunked(bucketRows, rowsPerBatch)) {
      batches.push(
        chunk.map((row) => ({
          query: s.writeBatchRow,
          params: [view, longVersion, bucket, row.key, types.Long.fromNumber(row.windowStart), encodeState(row.state as JsonValue)],
        })),
      );
    }
  }
  return { index: { query: s.indexBatchVersion, params: [view, longVersion] }, batches };
}

/** The queries reading a batch version's rows matching `filter`: only the buckets of named keys, or all. */
export function planBatchRowReads(s: CqlStatementTexts, view: string, version: number, filter: RowFilter | undefined): CqlStatement[] {
  const longVersion = types.Long.fromNumber(version);
  const bounds = windowBounds(filter);
  if (filter?.keys !== undefined) {
    const byBucket = new Map<number, string[]>();
    for (const key of new Set(filter.keys)) {
      const bucket = bucketOfKey(key);
      let list = byBucket.get(bucket);
      if (!list) byBucket.set(bucket, (list = []));
      list.push(key);
    }
    return [...byBucket].flatMap(([bucket, keys]) =>
      chunked(keys, MAX_KEYS_PER_QUERY).map((chunk) => ({ query: s.readBatchKeys, params: [view, longVersion, bucket, chunk, ...bounds] })),
    );
  }
  const windowed = filter?.windowFrom !== undefined || filter?.windowTo !== undefined;
  return Array.from({ length: BATCH_ROW_BUCKETS }, (_, bucket) =>
    windowed ? { query: s.readBatchWindows, params: [view, longVersion, bucket, ...bounds] } : { query: s.readBatchAll, params: [view, longVersion, bucket] },
  );
}

export function planBatchVersionList(s: CqlStatementTexts, view: string): CqlStatement {
  return { query: s.listBatchVersions, params: [view] };
}

/** Deletes every bucket of a version's rows, then its index entry. */
export function planBatchVersionDelete(s: CqlStatementTexts, view: string, version: number): { rows: CqlStatement[]; index: CqlStatement } {
  const longVersion = types.Long.fromNumber(version);
  return {
    rows: Array.from({ length: BATCH_ROW_BUCKETS }, (_, bucket) => ({ query: s.deleteBatchBucket, params: [view, longVersion, bucket] })),
    index: { query: s.unindexBatchVersion, params: [view, longVersion] },
  };
}

export function planManifestRead(s: CqlStatementTexts, view: string): CqlStatement {
  return { query: s.readManifest, params: [view] };
}

/** The two lightweight transactions of a publish: over an older serving version, or as the first one. */
export function planPublish(s: CqlStatementTexts, manifest: BatchManifest): { overOlder: CqlStatement; first: CqlStatement } {
  const version = types.Long.fromNumber(manifest.version);
  const text = encodeManifest(manifest);
  return {
    overOlder: { query: s.publishOverOlder, params: [version, text, manifest.view, version] },
    first: { query: s.publishFirst, params: [manifest.view, version, text] },
  };
}

/** Views with slices, with staged or stored versions, and with a manifest: scans of partition keys only. */
export function planViewLists(s: CqlStatementTexts): CqlStatement[] {
  return [
    { query: s.listSliceViews, params: [] },
    { query: s.listBatchViews, params: [] },
    { query: s.listManifestViews, params: [] },
  ];
}
