/**
 * The serving layer's HTTP API as an Express app, separate from listening so tests and the all-in-one
 * runner can mount and start it as they need.
 */
import { resolve } from 'node:path';
import express, { type Express } from 'express';
import type { Catalog, Logger, Metrics, Ports, SpeedLayerHealth } from '@lambda/core';
import { openApiDocument } from './api/openapi.js';
import { ViewProgressMonitor } from './health/view-progress-monitor.js';
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
import { queryRouter } from './routes/query.js';
import { SQL_QUERY_DEFAULTS, SqlQueryEngine, type SqlQueryEngineOptions } from './sql/sql-query-engine.js';

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
  /**
   * What the speed layer says of itself, when it runs in this process: /health and /status show it, and a
   * topic that keeps failing degrades /health. Without it, progress is judged from the stores alone.
   */
  speedLayerHealth?: () => SpeedLayerHealth;
  /**
   * How long a view's position may stay put on a partition while the log holds records beyond it before
   * /health calls the view stalled (`health.stallAfterMs`). Default 30 s.
   */
  stallAfterMs?: number;
  /** The clock (epoch ms) of freshness and stall detection. Default Date.now; tests inject one. */
  now?: () => number;
  /** Ad-hoc SQL (`POST /query`): its limits, and queries per minute per token. */
  query?: SqlQueryEngineOptions & { perMinute?: number };
}

export function createServer(options: ServingOptions): Express {
  const logger = options.logger.child({ ns: 'serving-layer' });
  const { ports, catalog, metrics, speedLayerHealth } = options;
  const now = options.now ?? Date.now;
  const monitor = new ViewProgressMonitor({ catalog, store: ports.viewStore, log: ports.eventLog, stallAfterMs: options.stallAfterMs, now });
  const reader = new MergedViewReader(ports.viewStore, catalog, { now, stalledFreshnessFrom: (view) => monitor.stalledFreshnessFrom(view) });
  const document = openApiDocument({ maxQueryRows: options.query?.maxRows ?? SQL_QUERY_DEFAULTS.maxRows, catalog });
  const authorized = requireToken(options.apiToken);
  registerPlatformGauges(metrics, catalog, ports.eventLog, ports.viewStore, { monitor, now });

  const app = express();
  app.disable('x-powered-by');
  // Answers change with every micro-batch: an ETag (a hash of every body) would rarely save a transfer.
  app.set('etag', false);
  app.set('query parser', 'simple'); // repeated parameters (?key=a&key=b) become arrays, nothing else nests
  app.use(httpMetrics(metrics));
  app.use(healthRouter(ports, { monitor, speedLayerHealth }));
  app.use(metricsRouter(metrics));
  app.get('/openapi.json', (_request, response) => void response.json(document));
  app.use(statusRouter(catalog, ports.eventLog, { monitor, speedLayerHealth }));
  app.use(viewsRouter(catalog, ports.viewStore, reader, { monitor, now }));
  app.use('/query', authorized);
  let engine: Promise<SqlQueryEngine> | undefined;
  app.use(
    queryRouter({
      // A failed start is tried again by the next query.
      engine: () => (engine ??= SqlQueryEngine.create(reader, catalog, options.query).catch((error: unknown) => ((engine = undefined), Promise.reject(error)))),
      maxRows: options.query?.maxRows ?? SQL_QUERY_DEFAULTS.maxRows,
      perMinute: options.query?.perMinute ?? 120,
    }),
  );
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
