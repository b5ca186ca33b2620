/** The speed layer as its own process: the log and the view store, micro-batches until stopped. */
import { openSomePorts } from '@lambda/adapters';
import type { PlatformConfig } from '@lambda/core';
import { loadCatalog } from '../catalog-file.js';
import { createSpeedLayer, type LayerDependencies } from './layer-factories.js';
import type { RunningService } from './running-service.js';

export async function startSpeedService(config: PlatformConfig, dependencies: LayerDependencies): Promise<RunningService> {
  const catalog = loadCatalog(config.catalog.file, config.records);
  const ports = await openSomePorts(config, dependencies, ['eventLog', 'viewStore']);
  try {
    const speedLayer = await createSpeedLayer(config, ports, catalog, dependencies);
    speedLayer.start();
    return {
      locations: ports.locations,
      summary: [`speed layer: ${catalog.views.size} views, a micro-batch every ${config.speedLayer.batchIntervalMs} ms`],
      async close() {
        try {
          await speedLayer.stop();
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
