// The public API of @lambda/speed-layer.
export { SpeedLayer } from './speed-layer.js';
export type { MicroBatchStats, SpeedLayerOptions } from './speed-layer.js';
export { MicroBatchLoop } from '@lambda/core';
export type { MicroBatchResult } from '@lambda/core';
export { DEFAULT_SLICE_POLICY } from './slice-policy.js';
export type { SlicePolicy } from './slice-policy.js';
export { DEAD_LETTER_HEADERS, DEAD_LETTER_SUFFIX, deadLetterTopicOf } from './dead-letter-writer.js';
// Kappa mode and reprocessing
export { KappaCompactor } from './kappa-compactor.js';
export type { CompactionResult, KappaCompactorOptions } from './kappa-compactor.js';
export { Reprocessor } from './reprocessor.js';
export type { ReprocessorOptions, ReprocessProgress, ReprocessRequest, ReprocessResult } from './reprocessor.js';
export { LakeArchiveReader } from './lake-archive-reader.js';
export type { LakeArchiveReaderOptions } from './lake-archive-reader.js';
export { ReprocessJobs } from './reprocess-jobs.js';
export type { ReprocessJob } from './reprocess-jobs.js';
