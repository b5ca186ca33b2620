// The public API of @lambda/common. Anything not exported here is internal.

// Records
export type { JsonObject, JsonPrimitive, JsonValue } from './records/json.js';
export { deepFreeze, isJsonObject } from './records/json.js';
export type { DecodeOptions, DecodeResult, EventRecord } from './records/event-record.js';
export { decodeEventRecord, encodeEvent } from './records/event-record.js';
export type { RecordLimits } from './records/record-limits.js';
export { Quarantine, QUARANTINE_SUFFIX, quarantineTopicOf } from './records/quarantine.js';
export type { QuarantineEntry } from './records/quarantine.js';
export { DEFAULT_RECORD_LIMITS, MAX_VIEW_KEY_LENGTH, resolveRecordLimits } from './records/record-limits.js';

// Errors
export * from './errors/errors.js';
export { retry } from './retry/retry.js';
export type { RetryOptions } from './retry/retry.js';

// Config
export { configSchema } from './config/config-schema.js';
export type { PlatformConfig, PlatformConfigInput } from './config/config-schema.js';
export { ENVIRONMENT_VARIABLES } from './config/environment.js';
export type { EnvironmentVariable } from './config/environment.js';
export { loadConfig } from './config/load-config.js';
export type { LoadConfigOptions } from './config/load-config.js';

// Logging and metrics
export { createLogger, silentLogger, LOG_LEVELS } from './logging/logger.js';
export type { LogLevel, Logger, LoggerOptions } from './logging/logger.js';
export { Metrics } from './metrics/metrics.js';

// Health
export type { PipelineState, SpeedLayerHealth, TopicPipelineHealth } from './health/speed-layer-health.js';

// Durability
export type { DurabilityOptions, FsyncPolicy } from './storage/fsync-policy.js';

// Port: event log
export type {
  AppendedRecord,
  CreateTopicOptions,
  EventLog,
  LogFollower,
  LogFollowerDescriptor,
  LogMessage,
  LogRecord,
  ReadOptions,
  ReadResult,
  TopicDescription,
} from './ports/event-log/event-log.js';
export { murmur2, partitionForKey } from './ports/event-log/partitioner.js';
export { validateTopicName } from './ports/event-log/validation.js';
export { EmbeddedEventLog } from './ports/event-log/embedded/embedded-event-log.js';
export { openLogFollower } from './ports/event-log/open-log-follower.js';
export { ensureTopic } from './ports/event-log/ensure-topic.js';
export type { EmbeddedEventLogOptions } from './ports/event-log/embedded/embedded-event-log.js';

// Port: view store
export type { BatchManifest, RowFilter, Slice, SliceRef, ViewRow, ViewStore } from './ports/view-store/view-store.js';
export { validateViewName } from './ports/view-store/validation.js';
export { nextBatchVersion, publishBuiltVersion } from './ports/view-store/batch-versions.js';
export { EmbeddedViewStore } from './ports/view-store/embedded/embedded-view-store.js';
export type { EmbeddedViewStoreOptions } from './ports/view-store/embedded/embedded-view-store.js';

// Port: lake
export type { Lake, LakeObjectInfo, ListOptions, ObjectBody } from './ports/lake/lake.js';
export { validateObjectKey } from './ports/lake/object-key.js';
export { LocalLake } from './ports/lake/local/local-lake.js';
export type { LocalLakeOptions } from './ports/lake/local/local-lake.js';

// The lake archive: the batch layer writes it, the batch recompute and the Kappa reprocessor read it
export { archiveKey, listArchiveFiles, parseArchiveKey, MASTER_PREFIX } from './lake-archive/archive-layout.js';
export type { ArchiveFile } from './lake-archive/archive-layout.js';
export { ArchiveFiles } from './lake-archive/archive-files.js';
export type { ArchiveFilesOptions } from './lake-archive/archive-files.js';
export { LakeFileCache } from './lake-archive/lake-file-cache.js';
export type { LakeFileCacheOptions } from './lake-archive/lake-file-cache.js';

// Port: scheduler
export type {
  JobContext,
  JobHandler,
  JobOptions,
  JobProgress,
  JobRun,
  JobState,
  JobStatus,
  JobTrigger,
  Repeat,
  Scheduler,
} from './ports/scheduler/scheduler.js';
export { InProcessScheduler } from './ports/scheduler/in-process/in-process-scheduler.js';
export { recomputeJobName, viewOfRecomputeJob } from './ports/scheduler/job-names.js';
export type { InProcessSchedulerOptions } from './ports/scheduler/in-process/in-process-scheduler.js';

// Opening every port from config
export { openPorts, openSomePorts } from './ports/open-ports.js';
export type { PortName, Ports, SomePorts } from './ports/open-ports.js';
export type { PortDependencies } from './ports/port-dependencies.js';

// Views: the definition language both layers run
export { Catalog, CatalogError } from './views/catalog.js';
export type { CatalogDefinition } from './views/catalog.js';
export { CompiledView, GLOBAL_KEY, formatKey } from './views/view.js';
export type { Evaluation, RowState, ViewDefinition } from './views/view.js';
export { CompiledSource, EVENT_TIME } from './views/source.js';
export type { FieldType, SourceDecodeResult, SourceDefinition, SourceRow } from './views/source.js';
export { WindowAssigner, parseDuration } from './views/window.js';
export type { Duration, WindowDefinition } from './views/window.js';
export { SqlParameters, compareCodePoints, compileExpression } from './views/expression/compile.js';
export type { CompiledExpression, Row, Scope } from './views/expression/compile.js';
export { parseExpression } from './views/expression/parser.js';
export { ExpressionError } from './views/expression/expression-error.js';
export type { Expression, Value, ValueType } from './views/expression/ast.js';
export type { Aggregate } from './views/aggregates/aggregate.js';
export { MicroBatchLoop } from './streaming/micro-batch-loop.js';
export type { MicroBatchResult } from './streaming/micro-batch-loop.js';

// Streaming: stream sources and the DStream API
export type { SourceBatch, StreamSource } from './streaming/sources/stream-source.js';
export { QueueSource } from './streaming/sources/queue-source.js';
export { LogTopicSource } from './streaming/sources/log-topic-source.js';
export type { LogTopicPosition, LogTopicSourceOptions } from './streaming/sources/log-topic-source.js';
export { SocketTextSource } from './streaming/sources/socket-text-source.js';
export type { SocketTextSourceOptions } from './streaming/sources/socket-text-source.js';
export { DirectorySource, isInProgressFileName } from './streaming/sources/directory-source.js';
export type { DirectoryPosition, DirectorySourceOptions } from './streaming/sources/directory-source.js';
export { StreamingContext } from './streaming/dstream/streaming-context.js';
export type { LogTopicStreamOptions, StopOptions, StreamingContextOptions } from './streaming/dstream/streaming-context.js';
export { DStream } from './streaming/dstream/dstream.js';
export type { BatchGenerator, ToViewOptions, ViewFeedReport } from './streaming/dstream/dstream.js';
export type { BatchTime } from './streaming/dstream/batch-time.js';
export type { UpdateStateFunction } from './streaming/dstream/state-by-key.js';
export { formatElement } from './streaming/dstream/format-element.js';

// Lake on S3
export { S3Lake } from './ports/lake/s3/s3-lake.js';
export type { S3LakeOptions } from './ports/lake/s3/s3-lake.js';

// Event log on Kafka (kafkajs)
export { KafkaEventLog } from './ports/event-log/kafka/kafka-event-log.js';
export type { KafkaEventLogOptions } from './ports/event-log/kafka/kafka-event-log.js';
export { toPlatformError as kafkaErrorToPlatformError } from './ports/event-log/kafka/kafka-errors.js';

// Port: view store on Cassandra
export { CassandraViewStore } from './ports/view-store/cassandra/cassandra-view-store.js';
export type { CassandraConsistency, CassandraSerialConsistency, CassandraViewStoreOptions } from './ports/view-store/cassandra/cassandra-view-store.js';

// Scheduler on BullMQ (Redis)
export { BullmqScheduler } from './ports/scheduler/bullmq/bullmq-scheduler.js';
export type { BullmqSchedulerOptions } from './ports/scheduler/bullmq/bullmq-scheduler.js';
export { openRedis, redactPassword } from './ports/scheduler/bullmq/redis-connection.js';
export type { RedisConnectionKind } from './ports/scheduler/bullmq/redis-connection.js';

// Kafka wire protocol: the embedded event log served to Kafka clients
export { KafkaProtocolServer } from './kafka-protocol/kafka-protocol-server.js';
export type { KafkaProtocolServerOptions, RunningKafkaProtocolServer } from './kafka-protocol/kafka-protocol-server.js';

// Streaming: the structured API (readStream / DataFrame / writeStream on the view machinery)
export * as F from './streaming/structured/column.js';
export { AggregateColumn, Column, ExplodeColumn, SortColumn, WindowColumn } from './streaming/structured/column.js';
export type { AggregateFunction } from './streaming/structured/column.js';
export { readStream } from './streaming/structured/read-stream.js';
export type { ReadStreamOptions, StreamSchema } from './streaming/structured/read-stream.js';
export { GroupedData, StreamingDataFrame } from './streaming/structured/streaming-data-frame.js';
export { DataStreamWriter } from './streaming/structured/data-stream-writer.js';
export type { QueryRuntimeOptions, SinkFormats } from './streaming/structured/data-stream-writer.js';
export { StreamingQuery } from './streaming/structured/streaming-query.js';
export type { QueryProgress, QueryStatus } from './streaming/structured/streaming-query.js';
export { Trigger } from './streaming/structured/trigger.js';
export type { ColumnType, InputFormat, SchemaColumn } from './streaming/structured/logical-plan.js';
export type { OutputRow, OutputValue, WindowValue } from './streaming/structured/row-pipeline.js';
export type { QueryTotals } from './streaming/structured/query-checkpoint.js';
export type { OutputMode, SinkBatch, StructuredSink } from './streaming/structured/sinks/structured-sink.js';
export { ConsoleSink } from './streaming/structured/sinks/console-sink.js';
export type { ConsoleSinkOptions } from './streaming/structured/sinks/console-sink.js';
export { MemorySink, MemoryTable, MemoryTables, memoryTables } from './streaming/structured/sinks/memory-sink.js';
export { FileSink, partFileName } from './streaming/structured/sinks/file-sink.js';
export type { FileFormat, FileSinkOptions } from './streaming/structured/sinks/file-sink.js';
export { LogTopicSink } from './streaming/structured/sinks/log-topic-sink.js';
export type { LogTopicSinkOptions } from './streaming/structured/sinks/log-topic-sink.js';
export { ViewSink } from './streaming/structured/sinks/view-sink.js';
export type { ViewSinkOptions } from './streaming/structured/sinks/view-sink.js';
export { ForeachBatchSink } from './streaming/structured/sinks/foreach-batch-sink.js';
export type { ForeachBatchFunction } from './streaming/structured/sinks/foreach-batch-sink.js';
export { formatTable } from './streaming/structured/sinks/table-format.js';
// Kappa mode and reprocessing: view generations
export {
  RETIRED_VERSION,
  compileGeneration,
  generationPointerName,
  generationStorageName,
  isKappaView,
  isRetired,
  publishViewGeneration,
  readViewGeneration,
  retireGeneration,
} from './views/view-generation.js';
export type { ViewGeneration } from './views/view-generation.js';
// batch layer: the archive job of a topic read only by Kappa views
export { archiveJobName } from './ports/scheduler/job-names.js';
