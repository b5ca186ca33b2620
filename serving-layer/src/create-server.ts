/**
 * The serving layer's HTTP API as an Express app, separate from listening so tests and the all-in-one
 * runner can mount and start it as they need.
 */
import express, { type Express } from 'express';
import type { Catalog, Logger, Metrics, Ports } from '@lambda/common';
import { errorHandler, unknownRoute } from './http/error-handler.js';
import { MergedViewReader } from './query/merged-view-reader.js';
import { healthRouter } from './routes/health.js';
import { ingestRouter } from './routes/ingest.js';
import { metricsRouter } from './routes/metrics.js';
import { viewsRouter } from './routes/views.js';

export interface ServingOptions {
  ports: Ports;
  catalog: Catalog;
  metrics: Metrics;
  logger: Logger;
  /** The largest ingest body accepted. Default 10 MiB. */
  maxIngestBytes?: number;
}

export function createServer(options: ServingOptions): Express {
  const logger = options.logger.child({ ns: 'serving-layer' });
  const { ports, catalog } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple'); // repeated parameters (?key=a&key=b) become arrays, nothing else nests
  app.use(healthRouter(ports));
  app.use(metricsRouter(options.metrics));
  app.use(viewsRouter(catalog, ports.viewStore, new MergedViewReader(ports.viewStore, catalog)));
  app.use(ingestRouter(catalog, ports.eventLog, { maxBodyBytes: options.maxIngestBytes ?? 10 * 1024 * 1024 }));
  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
