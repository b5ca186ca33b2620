/** The serving layer as its own process: the REST API and the dashboard over the stores the other layers write. */
import { openPorts } from '@lambda/adapters';
import type { PlatformConfig } from '@lambda/core';
import { loadCatalog } from '../catalog-file.js';
import { startServingLayer, type LayerDependencies } from './layer-factories.js';
import { endpointSummary, type RunningService } from './running-service.js';

export async function startServingService(config: PlatformConfig, dependencies: LayerDependencies): Promise<RunningService> {
  const catalog = loadCatalog(config.catalog.file, config.records);
  // Every port: ingest appends to the log, /health probes the lake, the admin API talks to the scheduler.
  const ports = await openPorts(config, dependencies);
  try {
    const server = await startServingLayer(config, ports, catalog, dependencies);
    return {
      locations: ports.locations,
      url: server.url,
      summary: endpointSummary(server.url, catalog),
      async close() {
        try {
          await server.close();
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
