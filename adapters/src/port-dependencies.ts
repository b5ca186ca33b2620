import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';

/** What every adapter may use: the platform's logger and, when the service has one, its metrics. */
export interface PortDependencies {
  logger: Logger;
  metrics?: Metrics;
}
