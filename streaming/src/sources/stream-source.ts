/**
 * What both streaming APIs read from: a source hands over what arrived since the last poll, with a
 * position that a checkpoint can store, so a restarted query resumes where its last committed batch
 * ended, neither losing nor repeating input.
 */
import type { JsonValue } from '@lambda/core';

export interface SourceBatch<T> {
  records: T[];
  /** Where the source stands after these records; stored in checkpoints and handed back to `commit`/`start`. */
  position: JsonValue;
}

export interface StreamSource<T> {
  /** For logs and error messages: `topic:pageviews`, `socket:127.0.0.1:9999`, `directory:/in`. */
  readonly description: string;
  /** Opens the source; from a checkpointed position when given, otherwise from its own beginning. */
  start(from?: JsonValue): Promise<void>;
  /** Takes what arrived since the last poll (possibly nothing), up to the source's limits. */
  poll(): Promise<SourceBatch<T>>;
  /** The batch ending at `position` is done and durable: the source may forget what came before it. */
  commit(position: JsonValue): Promise<void>;
  stop(): Promise<void>;
}
