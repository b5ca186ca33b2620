/**
 * The environment variables the platform reads, each mapped to one config path. This table is the one
 * place they are defined; docs/configuration.md lists the same names (a test keeps the two in step).
 */
export const ENVIRONMENT_VARIABLES = {
  CONFIG_FILE: '(a JSON file with any of the settings below, nested as in the config object)',
  DATA_DIR: 'dataDir',
  LOG_LEVEL: 'logger.level',
  LOG_FORMAT: 'logger.format',
  LOG: 'eventLog.adapter',
  EVENT_LOG_FSYNC: 'eventLog.fsync',
  EVENT_LOG_FSYNC_INTERVAL_MS: 'eventLog.fsyncIntervalMs',
  EVENT_LOG_SEGMENT_BYTES: 'eventLog.segmentBytes',
  EVENT_LOG_PARTITIONS: 'eventLog.defaultPartitions',
  VIEWS: 'viewStore.adapter',
  VIEW_STORE_FSYNC: 'viewStore.fsync',
  VIEW_STORE_FSYNC_INTERVAL_MS: 'viewStore.fsyncIntervalMs',
  LAKE: 'lake.adapter',
  LAKE_DIR: 'lake.dir',
  SCHEDULER: 'scheduler.adapter',
  SCHEDULER_HISTORY_LIMIT: 'scheduler.historyLimit',
  BATCH_INTERVAL_MS: 'speedLayer.batchIntervalMs',
  SLICE_MICRO_BATCHES: 'speedLayer.sliceMicroBatches',
  SLICE_MAX_AGE: 'speedLayer.sliceMaxAge',
  SPEED_WORKERS: 'speedLayer.workers',
  RECOMPUTE_EVERY: 'batchLayer.recomputeEvery',
  RECOMPUTE_CRON: 'batchLayer.recomputeCron',
  CLEANUP_GRACE: 'batchLayer.cleanupGrace',
  CATALOG_FILE: 'catalog.file',
  DEMO: 'demo.enabled',
  DEMO_EVENTS_PER_SECOND: 'demo.eventsPerSecond',
  DEMO_LATE_SHARE: 'demo.lateShare',
  DEMO_INVALID_SHARE: 'demo.invalidShare',
  DEMO_SEED: 'demo.seed',
  HTTP_HOST: 'http.host',
  HTTP_PORT: 'http.port',
  API_TOKEN: 'http.apiToken',
  MAX_INGEST_BYTES: 'http.maxIngestBytes',
} as const;

export type EnvironmentVariable = keyof typeof ENVIRONMENT_VARIABLES;
