/**
 * The serving layer's HTTP API as an Express app, separate from listening so tests and the all-in-one
 * runner can mount and start it as they need.
 */
import express, { type Express } from 'express';
import type { Logger, Metrics, Ports } from '@lambda/common';
import { errorHandler, unknownRoute } from './http/error-handler.js';
import { healthRouter } from './routes/health.js';
import { metricsRouter } from './routes/metrics.js';

export interface ServingOptions {
  ports: Ports;
  metrics: Metrics;
  logger: Logger;
}

export function createServer(options: ServingOptions): Express {
  const logger = options.logger.child({ ns: 'serving-layer' });
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRouter(options.ports));
  app.use(metricsRouter(options.metrics));
  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
