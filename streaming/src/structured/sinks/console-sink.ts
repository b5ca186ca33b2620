/** Spark's console sink: each batch as a table under a `Batch: n` banner. */
import type { SinkBatch, StructuredSink } from './structured-sink.js';
import { formatTable, type TableFormatOptions } from './table-format.js';

export interface ConsoleSinkOptions extends TableFormatOptions {
  /** Where the text goes; standard output by default. */
  write?: (text: string) => void;
  /** Print batches that output no rows, as Spark does. Default true. */
  showEmptyBatches?: boolean;
}

const BANNER = '-------------------------------------------';

export class ConsoleSink implements StructuredSink {
  readonly description = 'console';
  readonly idempotent = false;
  private readonly write: (text: string) => void;

  constructor(private readonly options: ConsoleSinkOptions = {}) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
  }

  async addBatch(batch: SinkBatch): Promise<void> {
    if (batch.rows.length === 0 && this.options.showEmptyBatches === false) return;
    this.write(`${BANNER}\nBatch: ${batch.batchId}\n${BANNER}\n${formatTable(batch.columns, batch.rows, this.options)}\n`);
  }
}
