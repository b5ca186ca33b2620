/**
 * The serving layer's HTTP API as an Express app, separate from listening so tests and the all-in-one
 * runner can mount and start it as they need.
 */
import { resolve } from 'node:path';
import express, { type Express } from 'express';
import type { Catalog, Logger, Metrics, Ports } from '@lambda/common';
import { openApiDocument } from './api/openapi.js';
import { requireToken } from './http/auth.js';
import { errorHandler, unknownRoute } from './http/error-handler.js';
import { httpMetrics, registerPlatformGauges } from './http/serving-metrics.js';
import { MergedViewReader } from './query/merged-view-reader.js';
import { batchRouter } from './routes/batch.js';
import { dashboardRouter } from './routes/dashboard.js';
import { healthRouter } from './routes/health.js';
import { ingestRouter } from './routes/ingest.js';
import { metricsRouter } from './routes/metrics.js';
import { reprocessRouter, type ReprocessService } from './routes/reprocess.js';
import { reportsRouter } from './routes/reports.js';
import { statusRouter } from './routes/status.js';
import { viewsRouter } from './routes/views.js';

export interface ServingOptions {
  ports: Ports;
  catalog: Catalog;
  metrics: Metrics;
  logger: Logger;
  /** The largest ingest body accepted. Default 10 MiB. */
  maxIngestBytes?: number;
  /** When set, ingest and admin routes need `Authorization: Bearer <token>`. */
  apiToken?: string;
  /** Where `npm run demo:compare` writes its reports, served at /reports/latest. Default: ./reports. */
  reportsDirectory?: string;
  /** Reprocessing, in the process that runs the speed layer; without it the reprocess routes answer 409. */
  reprocess?: ReprocessService;
}

export function createServer(options: ServingOptions): Express {
  const logger = options.logger.child({ ns: 'serving-layer' });
  const { ports, catalog, metrics } = options;
  const reader = new MergedViewReader(ports.viewStore, catalog);
  const document = openApiDocument();
  const authorized = requireToken(options.apiToken);
  registerPlatformGauges(metrics, catalog, ports.eventLog, ports.viewStore);

  const app = express();
  app.disable('x-powered-by');
  // Answers change with every micro-batch: an ETag (a hash of every body) would rarely save a transfer.
  app.set('etag', false);
  app.set('query parser', 'simple'); // repeated parameters (?key=a&key=b) become arrays, nothing else nests
  app.use(httpMetrics(metrics));
  app.use(healthRouter(ports));
  app.use(metricsRouter(metrics));
  app.get('/openapi.json', (_request, response) => void response.json(document));
  app.use(statusRouter(catalog, ports.eventLog));
  app.use(viewsRouter(catalog, ports.viewStore, reader));
  app.use('/ingest', authorized);
  app.use(ingestRouter(catalog, ports.eventLog, metrics, { maxBodyBytes: options.maxIngestBytes ?? 10 * 1024 * 1024 }));
  app.use('/views/:name/reprocess', authorized);
  app.use(reprocessRouter(catalog, options.reprocess));
  app.use('/batch', authorized);
  app.use(batchRouter(catalog, ports.scheduler));
  app.use(reportsRouter(resolve(options.reportsDirectory ?? 'reports')));
  app.use(dashboardRouter());
  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
