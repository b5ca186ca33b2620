// The public API of @lambda/common. Anything not exported here is internal.

// Records
export type { JsonObject, JsonPrimitive, JsonValue } from './records/json.js';
export { deepFreeze, isJsonObject } from './records/json.js';
export type { DecodeOptions, DecodeResult, EventRecord } from './records/event-record.js';
export { decodeEventRecord, encodeEvent } from './records/event-record.js';

// Errors
export * from './errors/errors.js';

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
export type { EmbeddedEventLogOptions } from './ports/event-log/embedded/embedded-event-log.js';

// Port: view store
export type { BatchManifest, RowFilter, Slice, SliceRef, ViewRow, ViewStore } from './ports/view-store/view-store.js';
export { validateViewName } from './ports/view-store/validation.js';
export { EmbeddedViewStore } from './ports/view-store/embedded/embedded-view-store.js';
export type { EmbeddedViewStoreOptions } from './ports/view-store/embedded/embedded-view-store.js';

// Port: lake
export type { Lake, LakeObjectInfo, ListOptions, ObjectBody } from './ports/lake/lake.js';
export { validateObjectKey } from './ports/lake/object-key.js';
export { LocalLake } from './ports/lake/local/local-lake.js';
export type { LocalLakeOptions } from './ports/lake/local/local-lake.js';

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
export { openPorts } from './ports/open-ports.js';
export type { Ports } from './ports/open-ports.js';

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
