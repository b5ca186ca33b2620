import { Router } from 'express';
import type { Metrics } from '@lambda/core';

/** `GET /metrics`: the platform's metrics in Prometheus text format. */
export function metricsRouter(metrics: Metrics): Router {
  return Router().get('/metrics', async (_request, response) => {
    response.type(metrics.contentType).send(await metrics.render());
  });
}
