/**
 * `readStream`: a streaming DataFrame over a source, with a declared schema. The schema is a view
 * source declaration (fields and their types, the event-time field), so the query's rows are typed and
 * decoded exactly as the views' records are.
 *
 *   readStream.topic({ eventLog, topic: 'ticks', schema: { eventTimeField: 'ts', fields: { symbol: 'string', price: 'number' } } })
 *   readStream.socket({ host: '127.0.0.1', port: 9999 })          // one column, `value`
 *   readStream.directory({ directory: '/in', format: 'json', schema })
 *   readStream.source(new QueueSource([...]), { format: 'json', schema })
 */
import { InvalidArgumentError, type FieldType, type SourceDefinition } from '@lambda/core';
import { DirectorySource, type DirectorySourceOptions } from '../sources/directory-source.js';
import { LogTopicSource, type LogTopicSourceOptions } from '../sources/log-topic-source.js';
import { SocketTextSource, type SocketTextSourceOptions } from '../sources/socket-text-source.js';
import type { StreamSource } from '../sources/stream-source.js';
import { ARRIVAL_TIME_FIELD } from './input-decoder.js';
import type { InputFormat } from './logical-plan.js';
import { StreamingDataFrame } from './streaming-data-frame.js';

export interface StreamSchema {
  /** Declared fields and their types; a record with a value of another type is skipped and counted. */
  fields: Record<string, FieldType>;
  /** The field holding event time (ms since the epoch or ISO-8601). Without it, the arrival time is used. */
  eventTimeField?: string;
}

export interface ReadStreamOptions {
  /** How records become rows: `log` for log records, `json` for lines of JSON objects, `text` for plain lines (one column, `value`). */
  format: InputFormat;
  /** Required for `log` and `json`; `text` has the one column `value`. */
  schema?: StreamSchema;
  /** The topic that names the input in view definitions (the view sink feeds it). Default: the log topic, else `structured-input`. */
  topic?: string;
}

const DEFAULT_TOPIC = 'structured-input';

function frameOf(source: StreamSource<unknown>, options: ReadStreamOptions): StreamingDataFrame {
  const { format, schema } = options;
  if (format !== 'log' && format !== 'json' && format !== 'text') {
    throw new InvalidArgumentError(`Unknown input format ${JSON.stringify(format)}: use log, json or text`, { format });
  }
  if (format !== 'text' && !schema) throw new InvalidArgumentError(`A ${format} stream needs a schema: its fields and their types`, { format });
  if (format === 'log' && schema?.eventTimeField === undefined) {
    throw new InvalidArgumentError('A log stream needs schema.eventTimeField, the field holding event time', {});
  }
  const arrivalTime = format === 'text' || schema?.eventTimeField === undefined;
  const sourceDefinition: SourceDefinition = {
    topic: options.topic ?? DEFAULT_TOPIC,
    eventTimeField: arrivalTime ? ARRIVAL_TIME_FIELD : schema!.eventTimeField!,
    fields: format === 'text' ? { value: 'string' } : { ...schema!.fields },
  };
  return StreamingDataFrame.fromInput({ source, format, sourceDefinition, arrivalTime });
}

export const readStream = {
  /** Any stream source: log records (`log`), JSON lines (`json`) or text lines (`text`). */
  source(source: StreamSource<unknown>, options: ReadStreamOptions): StreamingDataFrame {
    return frameOf(source, options);
  },

  /** An event-log topic (embedded or Kafka) whose values are JSON objects. */
  topic(options: LogTopicSourceOptions & { schema: StreamSchema & { eventTimeField: string } }): StreamingDataFrame {
    const { schema, ...sourceOptions } = options;
    return frameOf(new LogTopicSource(sourceOptions) as StreamSource<unknown>, { format: 'log', schema, topic: options.topic });
  },

  /** Lines from a TCP server (`nc -lk 9999`): one column, `value`, or JSON objects with `format: 'json'`. */
  socket(options: SocketTextSourceOptions & { format?: 'text' | 'json'; schema?: StreamSchema; topic?: string }): StreamingDataFrame {
    const { format, schema, topic, ...sourceOptions } = options;
    return frameOf(new SocketTextSource(sourceOptions), { format: format ?? 'text', ...(schema ? { schema } : {}), ...(topic ? { topic } : {}) });
  },

  /** New files in a directory, line by line: text, or JSON objects with `format: 'json'`. */
  directory(options: DirectorySourceOptions & { format?: 'text' | 'json'; schema?: StreamSchema; topic?: string }): StreamingDataFrame {
    const { format, schema, topic, ...sourceOptions } = options;
    return frameOf(new DirectorySource(sourceOptions), { format: format ?? 'text', ...(schema ? { schema } : {}), ...(topic ? { topic } : {}) });
  },
};
