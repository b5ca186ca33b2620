/**
 * The batch layer as its own process: archives the log into the lake and runs the recompute jobs the
 * scheduler hands it (on its repeat, or triggered from the serving layer's admin API).
 */
import { openSomePorts } from '@lambda/adapters';
import type { PlatformConfig } from '@lambda/core';
import { loadCatalog } from '../catalog-file.js';
import { createBatchLayer, type LayerDependencies } from './layer-factories.js';
import type { RunningService } from './running-service.js';

export async function startBatchService(config: PlatformConfig, dependencies: LayerDependencies): Promise<RunningService> {
  const catalog = loadCatalog(config.catalog.file, config.records);
  const ports = await openSomePorts(config, dependencies, ['eventLog', 'viewStore', 'lake', 'scheduler']);
  try {
    const batchLayer = await createBatchLayer(config, ports, catalog, dependencies);
    const repeat = config.batchLayer.recomputeCron ? `on cron "${config.batchLayer.recomputeCron}"` : `every ${config.batchLayer.recomputeEvery} ms`;
    return {
      locations: ports.locations,
      summary: [`batch layer: ${catalog.views.size} views, recomputed ${repeat}`],
      async close() {
        try {
          await batchLayer.close();
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
