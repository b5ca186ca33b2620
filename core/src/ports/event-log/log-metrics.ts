import type { Metrics } from '../../metrics/metrics.js';

/** The metrics every event-log adapter keeps, under the same names, so dashboards need not know which runs. */
export function eventLogMetrics(metrics: Metrics) {
  return {
    appendedRecords: metrics.counter({ name: 'lambda_log_appended_records_total', help: 'Records appended to the event log', labelNames: ['topic'] }),
    appendDuration: metrics.histogram({
      name: 'lambda_log_append_duration_seconds',
      help: 'Time from append call to acknowledgement',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
  };
}
