// The public API of @lambda/serving-layer.
export { createServer } from './create-server.js';
export type { ServingOptions } from './create-server.js';
export { listen } from './listen.js';
export type { RunningServer } from './listen.js';
export { MergedViewReader } from './query/merged-view-reader.js';
export type { MergedAnswer, MergedWindow, Provenance, ReadQuery } from './query/merged-view-reader.js';
export type { ErrorBody } from './http/error-handler.js';
export type { DependencyHealth } from './routes/health.js';
export type { IngestReport } from './routes/ingest.js';
