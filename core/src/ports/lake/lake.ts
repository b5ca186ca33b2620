/**
 * The lake port: an object store holding the immutable master dataset (S3's model: flat keys, prefix
 * listing in key order, whole-object writes, ETags that change whenever content does).
 */
import type { Readable } from 'node:stream';

export interface LakeObjectInfo {
  key: string;
  size: number;
  /** A quoted content hash, as S3 gives it; equal ETags mean equal content. */
  etag: string;
  lastModified: Date;
}

/** An object body: bytes, text, or a stream, which is written without being held in memory. */
export type ObjectBody = Buffer | Uint8Array | string | Readable | AsyncIterable<Uint8Array>;

export interface ListOptions {
  /** List only keys after this one (S3's StartAfter), for paging. */
  startAfter?: string;
  /** Stop after this many objects. */
  limit?: number;
}

export interface Lake {
  /** Stores an object whole: readers see the previous content or the new, never part of it. */
  put(key: string, body: ObjectBody): Promise<{ etag: string; size: number }>;
  /** Streams an object's content; ObjectNotFoundError if absent. */
  get(key: string): Promise<{ info: LakeObjectInfo; body: Readable }>;
  /** An object's metadata, or undefined if absent. */
  head(key: string): Promise<LakeObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in ascending key order (by UTF-8 bytes, as S3). */
  list(prefix: string, options?: ListOptions): AsyncIterable<LakeObjectInfo>;
  /** Deletes an object; deleting an absent one succeeds (as S3). */
  delete(key: string): Promise<void>;
  /**
   * The object's path on this machine, for adapters that keep objects as local files, so readers such
   * as DuckDB can read them in place. Adapters of remote stores leave it out.
   */
  localPath?(key: string): string;
  close(): Promise<void>;
}
