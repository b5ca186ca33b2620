// The public API of @lambda/batch-layer.
export { BatchLayer } from './batch-layer.js';
export type { BatchLayerOptions } from './batch-layer.js';
export { Recomputer } from './recompute.js';
export type { PreparedVersion, RecomputeProgress } from './recompute.js';
export { Archiver } from './archiver.js';
export type { ArchiveProgress, ArchiveResult } from './archiver.js';
export { archiveKey, listArchiveFiles, MASTER_PREFIX } from './archive-layout.js';
export type { ArchiveFile } from './archive-layout.js';
export { chooseHorizon } from './horizon.js';
export { DuckDbEngine, queryRows } from './duckdb-engine.js';
export type { DuckDbOptions } from './duckdb-engine.js';
