/**
 * A batch worker as its own process: it runs the partition tasks of fanned-out recomputes (each a lake
 * partition's share of a view's query, in its own DuckDB) and nothing else. It opens only the lake; the
 * batch layer's coordinator archives, merges and publishes. Run as many as there are machines to spare.
 */
import { ConfigError, type PlatformConfig } from '@lambda/core';
import { openSomePorts, redactPassword } from '@lambda/adapters';
import { loadCatalog } from '../catalog-file.js';
import { createPartitionWorker, type LayerDependencies } from './layer-factories.js';
import type { RunningService } from './running-service.js';

export async function startBatchWorkerService(config: PlatformConfig, dependencies: LayerDependencies): Promise<RunningService> {
  if (config.scheduler.adapter !== 'bullmq') {
    throw new ConfigError([
      {
        path: 'scheduler.adapter',
        source: 'batch worker',
        message: "must be 'bullmq' (SCHEDULER=bullmq): a batch worker takes its partition tasks from the BullMQ scheduler's Redis",
      },
    ]);
  }
  if (config.batchLayer.fanOut !== 'bullmq') {
    dependencies.logger.warn('batchLayer.fanOut is not bullmq here: the batch layer must set RECOMPUTE_FAN_OUT=bullmq for this worker to get tasks');
  }
  const catalog = loadCatalog(config.catalog.file, config.records);
  const ports = await openSomePorts(config, dependencies, ['lake']);
  try {
    const partitions = await createPartitionWorker(config, ports.lake, catalog, dependencies);
    const concurrency = Math.max(1, config.batchLayer.partitionConcurrency);
    return {
      locations: { ...ports.locations, redis: redactPassword(config.scheduler.bullmq.redisUrl) },
      summary: [`batch worker ${partitions.worker.name}: ${concurrency} partition task${concurrency === 1 ? '' : 's'} at a time, ${catalog.views.size} views`],
      async close() {
        try {
          await partitions.close();
        } finally {
          await ports.close();
        }
      },
    };
  } catch (error) {
    await ports.close().catch(() => undefined);
    throw error;
  }
}
