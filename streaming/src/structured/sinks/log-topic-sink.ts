/**
 * Rows to an event-log topic as JSON values (Spark's Kafka sink), through the log port. At-least-once:
 * a batch written but not committed when the process died is written again on restart; each message
 * carries its batch id in the `batch-id` header, so a consumer can drop repeats.
 */
import { type EventLog, type LogMessage, validateTopicName } from '@lambda/core';
import type { SinkBatch, StructuredSink } from './structured-sink.js';

export interface LogTopicSinkOptions {
  eventLog: EventLog;
  topic: string;
  /** A column whose value becomes the record key, so one key's rows share a partition. */
  keyColumn?: string;
}

export class LogTopicSink implements StructuredSink {
  readonly description: string;
  readonly idempotent = false;

  constructor(private readonly options: LogTopicSinkOptions) {
    validateTopicName(options.topic);
    this.description = `topic:${options.topic}`;
  }

  async addBatch(batch: SinkBatch): Promise<void> {
    if (batch.rows.length === 0) return;
    const keyColumn = this.options.keyColumn;
    const messages: LogMessage[] = batch.rows.map((row) => {
      const key = keyColumn === undefined ? null : row[keyColumn];
      return {
        key: key === null || key === undefined ? null : typeof key === 'object' ? JSON.stringify(key) : String(key),
        value: JSON.stringify(row),
        headers: { 'batch-id': String(batch.batchId) },
      };
    });
    await this.options.eventLog.append(this.options.topic, messages);
  }
}
