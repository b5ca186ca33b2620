/**
 * The limits every record meets before any layer counts it. They are checked once, in the decoder that
 * ingest, the speed layer and the archiver share, so a record either reaches every layer or none: a
 * record the decoder accepts can never be refused later by a view store, a Parquet file or DuckDB.
 */
import { InvalidArgumentError } from '../errors/errors.js';

export interface RecordLimits {
  /** The largest event value, in bytes as it arrives. Default 1 MiB. */
  maxEventBytes: number;
  /** The longest value of a declared string field, in UTF-16 code units (JavaScript's `length`). Default 4096. */
  maxStringLength: number;
  /**
   * The largest magnitude of a declared number field. Default 2^53 - 1: integers up to it are exact in
   * both layers, and no sum of them overflows.
   */
  maxNumberMagnitude: number;
}

export const DEFAULT_RECORD_LIMITS: Readonly<RecordLimits> = Object.freeze({
  maxEventBytes: 1024 * 1024,
  maxStringLength: 4096,
  maxNumberMagnitude: Number.MAX_SAFE_INTEGER,
});

/** The longest row key the view stores keep (Cassandra's and the embedded store's alike). */
export const MAX_VIEW_KEY_LENGTH = 4096;

/** The limits with defaults filled in; a value that is not a positive number is an error naming it. */
export function resolveRecordLimits(limits: Partial<RecordLimits> = {}): RecordLimits {
  const resolved = { ...DEFAULT_RECORD_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new InvalidArgumentError(`Invalid record limit ${name} ${JSON.stringify(value)}: must be a positive number`, { [name]: value });
    }
  }
  return resolved;
}
