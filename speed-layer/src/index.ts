// The public API of @lambda/speed-layer.
export { SpeedLayer } from './speed-layer.js';
export type { MicroBatchStats, SpeedLayerOptions } from './speed-layer.js';
export { MicroBatchLoop } from './micro-batch-loop.js';
export type { MicroBatchResult } from './micro-batch-loop.js';
export { DEFAULT_SLICE_POLICY } from './slice-policy.js';
export type { SlicePolicy } from './slice-policy.js';
export { DEAD_LETTER_HEADERS, DEAD_LETTER_SUFFIX, deadLetterTopicOf } from './dead-letter-writer.js';
