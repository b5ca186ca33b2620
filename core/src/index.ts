// The public API of @lambda/core. Anything not exported here is internal.
// Records
export type { JsonObject, JsonPrimitive, JsonValue } from './records/json.js';
export { deepFreeze, isJsonObject } from './records/json.js';
export type { DecodeOptions, DecodeResult, EventRecord } from './records/event-record.js';
export { decodeEventRecord, encodeEvent } from './records/event-record.js';
export type { RecordLimits } from './records/record-limits.js';
export { Quarantine, QUARANTINE_SUFFIX, quarantineTopicOf } from './records/quarantine.js';
export type { QuarantineEntry } from './records/quarantine.js';
export { DEFAULT_RECORD_LIMITS, MAX_VIEW_KEY_LENGTH, resolveRecordLimits } from './records/record-limits.js';
// Reproducible randomness (demos, generators, property tests)
export { SeededRandom, seededRandom } from './random/seeded-random.js';

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
export { writeFileAtomic } from './storage/atomic-file.js';
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
export {
  MAX_PARTITIONS,
  validateGroupName,
  validateOffset,
  validatePartition,
  validatePartitionCount,
  validateMessage,
  validateReadLimit,
  validateTopicName,
} from './ports/event-log/validation.js';
export type { ValidMessage } from './ports/event-log/validation.js';
export { EmbeddedEventLog } from './ports/event-log/embedded/embedded-event-log.js';
export { openLogFollower } from './ports/event-log/open-log-follower.js';
export { ensureTopic } from './ports/event-log/ensure-topic.js';
export { eventLogMetrics } from './ports/event-log/log-metrics.js';
export type { EmbeddedEventLogOptions } from './ports/event-log/embedded/embedded-event-log.js';
// Port: view store
export type { BatchManifest, RowFilter, Slice, SliceRef, ViewRow, ViewStore } from './ports/view-store/view-store.js';
export {
  validateFilter,
  validateManifest,
  validateRows,
  validateSlice,
  validateSliceRef,
  validateVersion,
  validateViewName,
} from './ports/view-store/validation.js';
export { nextBatchVersion, publishBuiltVersion } from './ports/view-store/batch-versions.js';
export { EmbeddedViewStore } from './ports/view-store/embedded/embedded-view-store.js';
export type { EmbeddedViewStoreOptions } from './ports/view-store/embedded/embedded-view-store.js';
// Port: lake
export type { Lake, LakeObjectInfo, ListOptions, ObjectBody } from './ports/lake/lake.js';
export { validateObjectKey, validateObjectPrefix } from './ports/lake/object-key.js';
export { LocalLake } from './ports/lake/local/local-lake.js';
export type { LocalLakeOptions } from './ports/lake/local/local-lake.js';
// The lake archive: the batch layer writes it, the batch recompute and the Kappa reprocessor read it
export { archiveKey, listArchiveFiles, parseArchiveKey, MASTER_PREFIX } from './lake-archive/archive-layout.js';
export type { ArchiveFile } from './lake-archive/archive-layout.js';
export { ArchiveFiles } from './lake-archive/archive-files.js';
export type { ArchiveFilesOptions } from './lake-archive/archive-files.js';
export { LakeFileCache } from './lake-archive/lake-file-cache.js';
export type { LakeFileCacheOptions } from './lake-archive/lake-file-cache.js';
// The ports as a set: what a layer receives
export type { PortAdapters, PortName, Ports, SomePorts } from './ports/ports.js';

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
export { normalizeProgress, runNumber, validateJobName, validateJobOptions, validateRepeat } from './ports/scheduler/validation.js';
export { InProcessScheduler } from './ports/scheduler/in-process/in-process-scheduler.js';
export { recomputeJobName, viewOfRecomputeJob } from './ports/scheduler/job-names.js';
export type { InProcessSchedulerOptions } from './ports/scheduler/in-process/in-process-scheduler.js';
// Views: the definition language both layers run
export { Catalog, CatalogError } from './views/catalog.js';
export type { CatalogDefinition } from './views/catalog.js';
export { CompiledView, GLOBAL_KEY, formatKey } from './views/view.js';
export type { Evaluation, RowState, ViewDefinition } from './views/view.js';
export { CompiledSource, EVENT_TIME } from './views/source.js';
export type { FieldType, SourceDecodeResult, SourceDefinition, SourceRow } from './views/source.js';
export { WindowAssigner, parseDuration } from './views/window.js';
export type { Duration, WindowDefinition } from './views/window.js';
export { SqlParameters, compareCodePoints, compareValues, compileExpression } from './views/expression/compile.js';
export { validateIdentifier } from './views/identifiers.js';
export type { CompiledExpression, Row, Scope } from './views/expression/compile.js';
export { parseExpression } from './views/expression/parser.js';
export { ExpressionError } from './views/expression/expression-error.js';
export type { Expression, Value, ValueType } from './views/expression/ast.js';
export type { Aggregate } from './views/aggregates/aggregate.js';
export { MicroBatchLoop } from './micro-batch/micro-batch-loop.js';
export type { MicroBatchResult } from './micro-batch/micro-batch-loop.js';
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
