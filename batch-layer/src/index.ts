// The public API of @lambda/batch-layer.
export { BatchLayer } from './batch-layer.js';
export type { BatchLayerOptions } from './batch-layer.js';
export { Recomputer } from './recompute.js';
export type { PreparedVersion, RecomputeProgress } from './recompute.js';
export { Archiver } from './archiver.js';
export type { ArchiveProgress, ArchiveResult } from './archiver.js';
export { chooseHorizon } from './horizon.js';
export { DuckDbEngine, queryRows } from './duckdb-engine.js';
export type { DuckDbOptions } from './duckdb-engine.js';
export { ArchiveQuery } from './archive-query.js';
export type { ArchiveFileRef, ArchiveQueryOptions, ArchiveQueryResult } from './archive-query.js';
export { PartitionQuery, definitionHash } from './partition-query.js';
export type { PartitionQueryOptions, PartitionResult, PartitionTask } from './partition-query.js';
export { PARTITION_QUEUE, describePartitionTask } from './partition-fan-out.js';
export type { PartitionFanOut, PartitionWorkerFactory } from './partition-fan-out.js';
export { PARTIALS_PREFIX, mergePartials, partialKey, writePartial } from './partials.js';
