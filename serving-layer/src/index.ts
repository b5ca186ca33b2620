// The public API of @lambda/serving-layer.
export { createServer } from './create-server.js';
export type { ServingOptions } from './create-server.js';
export { listen } from './listen.js';
export type { RunningServer } from './listen.js';
export { MergedViewReader } from './query/merged-view-reader.js';
export type { ReadQuery } from './query/merged-view-reader.js';
// The answers' types, inferred from the schemas that document and check them
export type { DependencyHealth, HealthAnswer, IngestReport, KeysPage, MergedAnswer, MergedWindow, Provenance, TopAnswer, ViewHealth } from './api/schemas.js';
export * as apiSchemas from './api/schemas.js';
export { openApiDocument } from './api/openapi.js';
export type { ErrorBody } from './http/error-handler.js';
// Whether each view keeps up with its log, for /health, /status, /metrics and answers' freshness
export { ViewProgressMonitor } from './health/view-progress-monitor.js';
export type { PartitionProgress, ProgressSample, ViewProgress, ViewProgressMonitorOptions, ViewProgressStatus } from './health/view-progress-monitor.js';
export type { SpeedLayerVerdict, TopicPipelineVerdict } from './health/speed-layer-verdict.js';
// Ad-hoc SQL over the merged views
export { SqlQueryEngine, SQL_QUERY_DEFAULTS } from './sql/sql-query-engine.js';
export type { SqlAnswer, SqlQuery, SqlQueryEngineOptions } from './sql/sql-query-engine.js';
export { InvalidSqlError, QueryLimitError, SqlNotAllowedError } from './sql/sql-errors.js';
export * as querySchemas from './api/query-schemas.js';
// Kappa mode and reprocessing
export type { ReprocessService } from './routes/reprocess.js';
export type { ReprocessJobAnswer } from './api/reprocess-schemas.js';
export * as reprocessSchemas from './api/reprocess-schemas.js';
// The comparative demo's reports
export * as reportsSchemas from './api/reports-schemas.js';
