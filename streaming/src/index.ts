// The public API of @lambda/streaming: DStreams and structured streaming. Anything not exported here is internal.

// Streaming: stream sources and the DStream API
export type { SourceBatch, StreamSource } from './sources/stream-source.js';
export { QueueSource } from './sources/queue-source.js';
export { LogTopicSource } from './sources/log-topic-source.js';
export type { LogTopicPosition, LogTopicSourceOptions } from './sources/log-topic-source.js';
export { SocketTextSource } from './sources/socket-text-source.js';
export type { SocketTextSourceOptions } from './sources/socket-text-source.js';
export { DirectorySource, isInProgressFileName } from './sources/directory-source.js';
export type { DirectoryPosition, DirectorySourceOptions } from './sources/directory-source.js';
export { StreamingContext } from './dstream/streaming-context.js';
export type { LogTopicStreamOptions, StopOptions, StreamingContextOptions } from './dstream/streaming-context.js';
export { DStream } from './dstream/dstream.js';
export type { BatchGenerator, ToViewOptions, ViewFeedReport } from './dstream/dstream.js';
export type { BatchTime } from './dstream/batch-time.js';
export type { UpdateStateFunction } from './dstream/state-by-key.js';
export { formatElement } from './dstream/format-element.js';
// Streaming: the structured API (readStream / DataFrame / writeStream on the view machinery)
export * as F from './structured/column.js';
export { AggregateColumn, Column, ExplodeColumn, SortColumn, WindowColumn } from './structured/column.js';
export type { AggregateFunction } from './structured/column.js';
export { readStream } from './structured/read-stream.js';
export type { ReadStreamOptions, StreamSchema } from './structured/read-stream.js';
export { GroupedData, StreamingDataFrame } from './structured/streaming-data-frame.js';
export { DataStreamWriter } from './structured/data-stream-writer.js';
export type { QueryRuntimeOptions, SinkFormats } from './structured/data-stream-writer.js';
export { StreamingQuery } from './structured/streaming-query.js';
export type { QueryProgress, QueryStatus } from './structured/streaming-query.js';
export { Trigger } from './structured/trigger.js';
export type { ColumnType, InputFormat, SchemaColumn } from './structured/logical-plan.js';
export type { OutputRow, OutputValue, WindowValue } from './structured/row-pipeline.js';
export type { QueryTotals } from './structured/query-checkpoint.js';
export type { OutputMode, SinkBatch, StructuredSink } from './structured/sinks/structured-sink.js';
export { ConsoleSink } from './structured/sinks/console-sink.js';
export type { ConsoleSinkOptions } from './structured/sinks/console-sink.js';
export { MemorySink, MemoryTable, MemoryTables, memoryTables } from './structured/sinks/memory-sink.js';
export { FileSink, partFileName } from './structured/sinks/file-sink.js';
export type { FileFormat, FileSinkOptions } from './structured/sinks/file-sink.js';
export { LogTopicSink } from './structured/sinks/log-topic-sink.js';
export type { LogTopicSinkOptions } from './structured/sinks/log-topic-sink.js';
export { ViewSink } from './structured/sinks/view-sink.js';
export type { ViewSinkOptions } from './structured/sinks/view-sink.js';
export { ForeachBatchSink } from './structured/sinks/foreach-batch-sink.js';
export type { ForeachBatchFunction } from './structured/sinks/foreach-batch-sink.js';
export { formatTable } from './structured/sinks/table-format.js';
