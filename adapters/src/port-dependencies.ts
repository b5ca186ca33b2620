import type { Logger, Metrics } from '@lambda/core';

/** What every adapter may use: the platform's logger and, when the service has one, its metrics. */
export interface PortDependencies {
  logger: Logger;
  metrics?: Metrics;
}
