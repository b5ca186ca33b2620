/** Spark's `foreachBatch`: a function of each batch's rows and id. Idempotent if the function is. */
import type { OutputRow } from '../row-pipeline.js';
import type { SinkBatch, StructuredSink } from './structured-sink.js';

export type ForeachBatchFunction = (rows: OutputRow[], batchId: number, batch: SinkBatch) => void | Promise<void>;

export class ForeachBatchSink implements StructuredSink {
  readonly description = 'foreachBatch';

  constructor(
    private readonly fn: ForeachBatchFunction,
    /** Declare it when the function replaces a batch handed twice, for exactly-once output. */
    readonly idempotent = false,
  ) {}

  async addBatch(batch: SinkBatch): Promise<void> {
    await this.fn(batch.rows, batch.batchId, batch);
  }
}
