/**
 * Where a structured query's result goes. A sink receives each batch's rows with the batch id; a sink
 * that replaces a batch handed to it twice (`idempotent`) gives exactly-once output across restarts,
 * the others at-least-once (a batch whose output was written but not committed is written again).
 */
import type { SchemaColumn } from '../logical-plan.js';
import type { OutputRow } from '../row-pipeline.js';

export type OutputMode = 'append' | 'update' | 'complete';

export interface SinkBatch {
  batchId: number;
  rows: OutputRow[];
  columns: SchemaColumn[];
  outputMode: OutputMode;
}

export interface StructuredSink {
  /** For logs, errors and progress: `console`, `memory:counts`, `files:/out (json)`. */
  readonly description: string;
  /** Whether the same batch id handed twice replaces the first rows rather than adding to them. */
  readonly idempotent: boolean;
  /** The output modes the sink can take; all when undefined. */
  readonly outputModes?: readonly OutputMode[];
  addBatch(batch: SinkBatch): Promise<void>;
  close?(): Promise<void>;
}
