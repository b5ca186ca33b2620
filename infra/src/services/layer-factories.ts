/**
 * Each layer built from the platform config: the one place where config keys become layer options, so
 * the all-in-one runner and the per-layer processes build the same layers.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { Catalog, EventLog, Lake, Logger, Metrics, PlatformConfig, Ports, Scheduler, SpeedLayerHealth, ViewStore } from '@lambda/core';
import { BullmqTaskFanOut, BullmqTaskWorker } from '@lambda/adapters';
import {
  BatchLayer,
  DuckDbEngine,
  PARTITION_QUEUE,
  PartitionQuery,
  describePartitionTask,
  type PartitionResult,
  type PartitionTask,
  type DuckDbOptions,
} from '@lambda/batch-layer';
import { createServer, listen, type ReprocessService, type RunningServer } from '@lambda/serving-layer';
import { KappaCompactor, Reprocessor, SpeedLayer } from '@lambda/speed-layer';

export interface LayerDependencies {
  logger: Logger;
  metrics: Metrics;
}

/** The speed layer over the log and the view store; not started. */
export function createSpeedLayer(
  config: PlatformConfig,
  ports: { eventLog: EventLog; viewStore: ViewStore },
  catalog: Catalog,
  { logger, metrics }: LayerDependencies,
): Promise<SpeedLayer> {
  return SpeedLayer.create({
    eventLog: ports.eventLog,
    viewStore: ports.viewStore,
    catalog,
    logger,
    metrics,
    batchIntervalMs: config.speedLayer.batchIntervalMs,
    slicePolicy: { microBatches: config.speedLayer.sliceMicroBatches, maxAgeMs: config.speedLayer.sliceMaxAge },
    defaultPartitions: config.eventLog.defaultPartitions,
    workers: config.speedLayer.workers === 'auto' ? Math.min(availableParallelism(), 8) : config.speedLayer.workers,
    member: { index: config.speedLayer.instance, of: config.speedLayer.instances },
  });
}

/** The batch layer: archiver and recompute jobs registered with the scheduler on the configured repeat. */
export async function createBatchLayer(
  config: PlatformConfig,
  ports: { eventLog: EventLog; viewStore: ViewStore; lake: Lake; scheduler: Scheduler },
  catalog: Catalog,
  { logger, metrics }: LayerDependencies,
): Promise<BatchLayer> {
  // Fanned out, a recompute's partition queries travel as BullMQ jobs on the scheduler's Redis; this
  // process takes `partitionConcurrency` of them at once (0: batch workers elsewhere run them all).
  const fanOut =
    config.batchLayer.fanOut === 'bullmq'
      ? {
          tasks: await BullmqTaskFanOut.open<PartitionTask, PartitionResult>({ ...partitionQueue(config), describe: describePartitionTask, logger }),
          openWorker:
            config.batchLayer.partitionConcurrency > 0
              ? (run: (task: PartitionTask) => Promise<PartitionResult>, name: string) =>
                  BullmqTaskWorker.open({ ...partitionQueue(config), name, concurrency: config.batchLayer.partitionConcurrency, describe: describePartitionTask, logger }, run)
              : undefined,
        }
      : undefined;
  return BatchLayer.create({
    eventLog: ports.eventLog,
    viewStore: ports.viewStore,
    lake: ports.lake,
    scheduler: ports.scheduler,
    catalog,
    logger,
    metrics,
    workDirectory: join(resolve(config.dataDir), 'batch-work'),
    lakeCacheDir: resolve(config.lake.s3.cacheDir ?? join(config.dataDir, 'lake-cache')),
    duckdb: batchDuckDbOptions(config),
    repeat: config.batchLayer.recomputeCron ? { cron: config.batchLayer.recomputeCron } : { everyMs: config.batchLayer.recomputeEvery },
    cleanupGraceMs: config.batchLayer.cleanupGrace,
    fanOut,
    kappaViews: config.kappa.views,
  }).catch(async (error: unknown) => {
    await fanOut?.tasks.close();
    throw error;
  });
}

/** The batch layer's DuckDB settings, for a recompute and a batch worker alike. */
function batchDuckDbOptions(config: PlatformConfig): DuckDbOptions {
  const { memoryLimit, threads } = config.batchLayer;
  return { ...(memoryLimit !== undefined && { memoryLimit }), ...(threads !== undefined && { threads }) };
}

/** The partition queue on the BullMQ scheduler's Redis, under its key prefix. */
function partitionQueue(config: PlatformConfig) {
  const { redisUrl, prefix } = config.scheduler.bullmq;
  return { redisUrl, prefix, queue: PARTITION_QUEUE };
}

/** The serving layer's API and dashboard, listening on the configured host and port. */
export function startServingLayer(
  config: PlatformConfig,
  ports: Ports,
  catalog: Catalog,
  { logger, metrics }: LayerDependencies,
  services: { reprocess?: ReprocessService; speedLayerHealth?: () => SpeedLayerHealth } = {},
): Promise<RunningServer> {
  const app = createServer({
    ports,
    catalog,
    metrics,
    logger,
    apiToken: config.http.apiToken,
    maxIngestBytes: config.http.maxIngestBytes,
    reprocess: services.reprocess,
    // Only when the speed layer runs in this process; a serving process alone judges progress from the stores.
    speedLayerHealth: services.speedLayerHealth,
    stallAfterMs: config.health.stallAfterMs,
    query: { timeoutMs: config.query.timeout, memoryLimit: config.query.memoryLimit, maxRows: config.query.maxRows, perMinute: config.query.perMinute },
  });
  return listen(app, config.http);
}

/** The Kappa views of the catalog under `kappa.views` (`*`: every view). */
export function kappaViewsOf(config: PlatformConfig, catalog: Catalog): string[] {
  return [...catalog.views.keys()].filter((view) => config.kappa.views.includes('*') || config.kappa.views.includes(view));
}

/** The compactor of the Kappa views, on the configured schedule; not started. Undefined without Kappa views. */
export function createKappaCompactor(config: PlatformConfig, viewStore: ViewStore, catalog: Catalog, { logger }: LayerDependencies): KappaCompactor | undefined {
  const views = kappaViewsOf(config, catalog);
  return views.length === 0 ? undefined : KappaCompactor.create({ viewStore, catalog, views, logger, everyMs: config.kappa.compactEvery });
}

/** Reprocessing of views after a logic change, in the process that runs the speed layer. */
export function createReprocessor(
  config: PlatformConfig,
  ports: { eventLog: EventLog; viewStore: ViewStore; lake: Lake },
  catalog: Catalog,
  layers: { speedLayer?: SpeedLayer; compactor?: KappaCompactor; batchLayer?: BatchLayer },
  { logger }: LayerDependencies,
): Reprocessor {
  const { batchLayer } = layers;
  const kappaViews = kappaViewsOf(config, catalog);
  return new Reprocessor({
    eventLog: ports.eventLog,
    viewStore: ports.viewStore,
    lake: ports.lake,
    catalog,
    speedLayer: layers.speedLayer,
    compactor: layers.compactor,
    logger,
    slicePolicy: { microBatches: config.speedLayer.sliceMicroBatches, maxAgeMs: config.speedLayer.sliceMaxAge },
    scratchDirectory: join(resolve(config.dataDir), 'reprocess-work'),
    // A Lambda view's history is the batch layer's to recompute with the new logic; a Kappa view is replayed.
    seed: batchLayer && ((generation, onProgress) => (kappaViews.includes(generation.view) ? Promise.resolve(undefined) : batchLayer.recomputeGeneration(generation, onProgress))),
  });
}

/**
 * A batch worker: partition tasks of fanned-out recomputes, taken from the BullMQ scheduler's Redis and
 * run in a DuckDB of its own (at least one at a time: a worker process exists to run them).
 */
export async function createPartitionWorker(
  config: PlatformConfig,
  lake: Lake,
  catalog: Catalog,
  { logger }: LayerDependencies,
): Promise<{ worker: BullmqTaskWorker<PartitionTask, PartitionResult>; close(): Promise<void> }> {
  const workDirectory = join(resolve(config.dataDir), 'batch-worker-work');
  const engine = await DuckDbEngine.create({ tempDirectory: join(workDirectory, 'duckdb'), ...batchDuckDbOptions(config) });
  try {
    const query = new PartitionQuery({ engine, lake, catalog, lakeCacheDir: resolve(config.lake.s3.cacheDir ?? join(config.dataDir, 'lake-cache')), logger });
    const worker = await BullmqTaskWorker.open<PartitionTask, PartitionResult>(
      {
        ...partitionQueue(config),
        name: query.worker,
        concurrency: Math.max(1, config.batchLayer.partitionConcurrency),
        describe: describePartitionTask,
        logger,
      },
      (task) => query.run(task),
    );
    return {
      worker,
      async close() {
        try {
          await worker.close();
        } finally {
          engine.close();
        }
      },
    };
  } catch (error) {
    engine.close();
    throw error;
  }
}
