/**
 * Turns what a source hands over into rows, with the same decoder the views use (`CompiledSource`), so a
 * record a query reads has the same typed fields and event time it would have in the speed layer.
 */
import { type LogRecord, CompiledSource, type SourceRow } from '@lambda/core';
import type { StreamInput } from './logical-plan.js';

/** The field holding the arrival time of text input, and of JSON input without event time. */
export const ARRIVAL_TIME_FIELD = 'timestamp';

export interface DecodedBatch {
  rows: SourceRow[];
  /** Records that did not decode (not JSON, a field of the wrong type...), with the first reason. */
  invalid: number;
  firstProblem?: string;
}

export class InputDecoder {
  private readonly source: CompiledSource;
  private sequence = 0;

  constructor(private readonly input: StreamInput) {
    this.source = new CompiledSource(input.sourceDefinition);
  }

  decode(records: readonly unknown[], arrivedAt: number): DecodedBatch {
    const rows: SourceRow[] = [];
    let invalid = 0;
    let firstProblem: string | undefined;
    for (const record of records) {
      const decoded = this.source.decode(this.asLogRecord(record, arrivedAt));
      if (decoded.ok) rows.push(decoded.row);
      else {
        invalid++;
        firstProblem ??= decoded.reason;
      }
    }
    return { rows, invalid, ...(firstProblem === undefined ? {} : { firstProblem }) };
  }

  /** Lines become log records (partition 0, a running offset) so one decoder serves every format. */
  private asLogRecord(record: unknown, arrivedAt: number): LogRecord {
    if (this.input.format === 'log') return record as LogRecord;
    const line = typeof record === 'string' ? record : Buffer.isBuffer(record) ? record.toString('utf8') : JSON.stringify(record);
    let value: string;
    if (this.input.format === 'text') value = JSON.stringify({ value: line, [ARRIVAL_TIME_FIELD]: arrivedAt });
    else if (this.input.arrivalTime) value = stampArrival(line, arrivedAt);
    else value = line;
    return { topic: this.source.topic, partition: 0, offset: this.sequence++, timestamp: arrivedAt, key: null, value: Buffer.from(value), headers: {} };
  }
}

function stampArrival(line: string, arrivedAt: number): string {
  try {
    const parsed = JSON.parse(line) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return JSON.stringify({ ...parsed, [ARRIVAL_TIME_FIELD]: arrivedAt });
  } catch {
    // Left as it is: the decoder reports it.
  }
  return line;
}
