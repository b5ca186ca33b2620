/**
 * The all-in-one runner: every layer of the platform in one process, on the adapters the config names
 * (the embedded ones by default), with the web-analytics demo stream flowing. Production runs each layer
 * as its own process instead.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { openPorts, type Catalog, type Logger, type Metrics, type PlatformConfig, type Ports } from '@lambda/common';
import { BatchLayer } from '@lambda/batch-layer';
import { createServer, listen, type RunningServer } from '@lambda/serving-layer';
import { SpeedLayer } from '@lambda/speed-layer';
import { loadCatalog } from './catalog-file.js';
import { PAGEVIEWS, startDemoStream } from './demo/web-analytics.js';

export interface AllInOne {
  ports: Ports;
  catalog: Catalog;
  speedLayer: SpeedLayer;
  batchLayer: BatchLayer;
  /** The serving layer's base URL. */
  url: string;
  /** Stops the demo stream, the API, the speed layer (after its micro-batch in flight commits) and the batch layer, then closes every adapter. */
  close(): Promise<void>;
}

export async function createAllInOne(config: PlatformConfig, dependencies: { logger: Logger; metrics: Metrics }): Promise<AllInOne> {
  const { logger, metrics } = dependencies;
  const catalog = loadCatalog(config.catalog.file);
  const ports = await openPorts(config, dependencies);
  const stops: (() => Promise<void>)[] = [() => ports.close()];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const speedLayer = await SpeedLayer.create({
      eventLog: ports.eventLog,
      viewStore: ports.viewStore,
      catalog,
      logger,
      metrics,
      batchIntervalMs: config.speedLayer.batchIntervalMs,
      slicePolicy: { microBatches: config.speedLayer.sliceMicroBatches, maxAgeMs: config.speedLayer.sliceMaxAge },
      defaultPartitions: config.eventLog.defaultPartitions,
      workers: config.speedLayer.workers === 'auto' ? Math.min(availableParallelism(), 8) : config.speedLayer.workers,
    });
    const batchLayer = await BatchLayer.create({
      eventLog: ports.eventLog,
      viewStore: ports.viewStore,
      lake: ports.lake,
      scheduler: ports.scheduler,
      catalog,
      logger,
      metrics,
      workDirectory: join(resolve(config.dataDir), 'batch-work'),
      repeat: config.batchLayer.recomputeCron ? { cron: config.batchLayer.recomputeCron } : { everyMs: config.batchLayer.recomputeEvery },
      cleanupGraceMs: config.batchLayer.cleanupGrace,
    });
    stops.push(() => batchLayer.close());
    speedLayer.start();
    stops.push(() => speedLayer.stop());
    const app = createServer({ ports, catalog, metrics, logger, apiToken: config.http.apiToken, maxIngestBytes: config.http.maxIngestBytes });
    const server: RunningServer = await listen(app, config.http);
    stops.push(() => server.close());
    if (config.demo.enabled && catalog.sources.has(PAGEVIEWS)) {
      const demo = startDemoStream(ports.eventLog, config.demo, logger);
      stops.push(() => demo.stop());
    }
    return { ports, catalog, speedLayer, batchLayer, url: server.url, close };
  } catch (error) {
    await close();
    throw error;
  }
}
