/**
 * What a DStream needs from its streaming context: the batch interval to check windows against, and
 * places to register the outputs that drive each batch and the state that each batch checkpoints.
 */
import type { JsonValue } from '@lambda/core';
import type { BatchTime } from './batch-time.js';

/** A stateful operation: its changes during a batch take effect only once the batch commits. */
export interface StatefulNode {
  /** The state as JSON, for the checkpoint (the committed state plus the batch being committed). */
  snapshot(): JsonValue;
  restore(snapshot: JsonValue): void;
  /** The batch's outputs are done: make its staged changes the state. */
  commit(): void;
  /** The batch failed or was abandoned: drop its staged changes, so a retry starts from the same state. */
  abort(): void;
}

/** An output operation: runs once per batch with the stream's records (skipped when the stream has no batch then). */
export interface OutputOperation {
  readonly name: string;
  run(batch: BatchTime): Promise<void>;
}

export interface StreamGraph {
  readonly batchIntervalMs: number;
  /** Where pprint writes. */
  readonly write: (text: string) => void;
  /** Throws when the context has started: the graph is fixed from then on. */
  assertDefinable(operation: string): void;
  addOutput(output: OutputOperation): void;
  addState(node: StatefulNode): void;
}
