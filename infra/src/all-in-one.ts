/**
 * The all-in-one runner: every layer of the platform in one process, on the adapters the config names
 * (the embedded ones by default), with the web-analytics demo stream flowing. Production runs each layer
 * as its own process instead.
 */
import { KafkaProtocolServer } from '@lambda/kafka-protocol';
import { openPorts } from '@lambda/adapters';
import type { Catalog, ViewDefinition, Logger, Metrics, PlatformConfig, Ports } from '@lambda/core';
import type { BatchLayer } from '@lambda/batch-layer';
import type { RunningServer } from '@lambda/serving-layer';
import { ReprocessJobs, type KappaCompactor, type ReprocessProgress, type ReprocessResult, type SpeedLayer } from '@lambda/speed-layer';
import { loadCatalog } from './catalog-file.js';
import { PAGEVIEWS, startDemoStream } from './demo/web-analytics.js';
import {
  createBatchLayer,
  createKappaCompactor,
  createReprocessor,
  createSpeedLayer,
  kappaViewsOf,
  startServingLayer,
} from './services/layer-factories.js';

export interface AllInOne {
  ports: Ports;
  catalog: Catalog;
  speedLayer: SpeedLayer;
  batchLayer: BatchLayer;
  /** The serving layer's base URL. */
  url: string;
  /** The views running in Kappa mode (`kappa.views`): no batch layer, compacted by `compactor`. */
  kappaViews: ReadonlySet<string>;
  compactor: KappaCompactor | undefined;
  /**
   * Reprocesses a view with a new definition (the catalog file's when absent): builds the next generation
   * while the current one serves, switches readers atomically once it caught up, then deletes the old one.
   */
  reprocess(view: string, definition?: ViewDefinition, options?: { onProgress?: (progress: ReprocessProgress) => void }): Promise<ReprocessResult>;
  /** Where the embedded log speaks the Kafka protocol (`host:port`), when it does. */
  kafkaAddress?: string;
  /** Stops the demo stream, the API, the speed layer (after its micro-batch in flight commits) and the batch layer, then closes every adapter. */
  close(): Promise<void>;
}

export async function createAllInOne(config: PlatformConfig, dependencies: { logger: Logger; metrics: Metrics }): Promise<AllInOne> {
  const { logger } = dependencies;
  const catalog = loadCatalog(config.catalog.file, config.records);
  const ports = await openPorts(config, dependencies);
  const stops: (() => Promise<void>)[] = [() => ports.close()];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    // Kafka clients can produce to and consume from the embedded log; a real Kafka needs no front.
    let kafkaAddress: string | undefined;
    if (config.kafkaServer.enabled && config.eventLog.adapter === 'embedded') {
      const { host, port, maxFrameBytes } = config.kafkaServer;
      // The HTTP API's token guards the log over Kafka too: clients authenticate with SASL/PLAIN, the token as password.
      const auth = config.http.apiToken ? { secret: config.http.apiToken } : undefined;
      const autoCreateTopics = config.kafkaServer.autoCreateTopics ? { partitions: config.eventLog.defaultPartitions } : false;
      try {
        const kafkaServer = await KafkaProtocolServer.start({ eventLog: ports.eventLog, host, port, maxFrameBytes, autoCreateTopics, auth, logger });
        kafkaAddress = `${kafkaServer.host}:${kafkaServer.port}`;
        stops.push(() => kafkaServer.close());
      } catch (error) {
        // An optional convenience: a Kafka already on the port must not keep the platform from starting.
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        logger.warn(`${host}:${port} is in use: the Kafka protocol server is off (set KAFKA_SERVER_PORT, or KAFKA_SERVER=false)`);
      }
    }
    const speedLayer = await createSpeedLayer(config, ports, catalog, dependencies);
    const batchLayer = await createBatchLayer(config, ports, catalog, dependencies);
    stops.push(() => batchLayer.close());
    speedLayer.start();
    stops.push(() => speedLayer.stop());
    const compactor = createKappaCompactor(config, ports.viewStore, catalog, dependencies);
    if (compactor) {
      compactor.start();
      stops.push(() => compactor.stop());
    }
    const reprocessor = createReprocessor(config, ports, catalog, { speedLayer, compactor, batchLayer }, dependencies);
    // A definition left out is re-read from the catalog file: the point of a reprocess is a changed file.
    const reprocess = (view: string, definition?: ViewDefinition, options: { onProgress?: (progress: ReprocessProgress) => void } = {}) =>
      reprocessor.reprocess(view, { definition: definition ?? loadCatalog(config.catalog.file, config.records).views.get(view)?.definition, onProgress: options.onProgress });
    const reprocessJobs = new ReprocessJobs({ reprocess: (view, request) => reprocess(view, request?.definition, request) });
    stops.push(() => reprocessJobs.settled());
    const server: RunningServer = await startServingLayer(config, ports, catalog, dependencies, { reprocess: reprocessJobs, speedLayerHealth: () => speedLayer.health() });
    stops.push(() => server.close());
    if (config.demo.enabled && catalog.sources.has(PAGEVIEWS)) {
      const demo = startDemoStream(ports.eventLog, config.demo, logger);
      stops.push(() => demo.stop());
    }
    const kappaViews = new Set(kappaViewsOf(config, catalog));
    return { ports, catalog, speedLayer, batchLayer, kappaViews, compactor, reprocess, url: server.url, kafkaAddress, close };
  } catch (error) {
    await close();
    throw error;
  }
}
