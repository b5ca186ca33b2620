/**
 * The serving layer's metrics: HTTP latency per route, and gauges read when Prometheus scrapes: log end
 * offsets, the speed layer's lag per partition, each view's freshness and its stalled partitions. (The
 * speed and batch layers record their own micro-batch and recompute durations into the same registry.)
 */
import type { RequestHandler } from 'express';
import type { Catalog, EventLog, Metrics, ViewStore } from '@lambda/core';
import { freshnessMs } from '../health/freshness.js';
import type { ViewProgressMonitor } from '../health/view-progress-monitor.js';
import { SPEED_LAYER_GROUP } from '../routes/status.js';

export function httpMetrics(metrics: Metrics): RequestHandler {
  const duration = metrics.histogram({
    name: 'lambda_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
  });
  return (request, response, next) => {
    const started = performance.now();
    response.on('finish', () => {
      // The route pattern, not the path: one series per endpoint, however many views and keys.
      const route = request.route ? `${request.baseUrl}${String(request.route.path)}` : 'unmatched';
      duration.observe({ method: request.method, route, status: String(response.statusCode) }, (performance.now() - started) / 1000);
    });
    next();
  };
}

export function registerPlatformGauges(
  metrics: Metrics,
  catalog: Catalog,
  log: EventLog,
  store: ViewStore,
  progress: { monitor: ViewProgressMonitor; now: () => number },
): void {
  const { monitor, now } = progress;
  metrics.gauge({
    name: 'lambda_log_end_offset',
    help: 'End offset of each source topic partition',
    labelNames: ['topic', 'partition'],
    async collect() {
      this.reset();
      for (const topic of catalog.sources.keys()) {
        const ends = await log.endOffsets(topic).catch(() => []);
        ends.forEach((end, partition) => this.set({ topic, partition: String(partition) }, end));
      }
    },
  });
  metrics.gauge({
    name: 'lambda_speed_lag_records',
    help: 'Records of each source partition the speed layer has not committed yet',
    labelNames: ['topic', 'partition'],
    async collect() {
      this.reset();
      for (const topic of catalog.sources.keys()) {
        const ends = await log.endOffsets(topic).catch(() => []);
        const committed = ends.length > 0 ? await log.committedOffsets(SPEED_LAYER_GROUP, topic) : new Map<number, number>();
        ends.forEach((end, partition) => this.set({ topic, partition: String(partition) }, end - (committed.get(partition) ?? 0)));
      }
    },
  });
  metrics.gauge({
    name: 'lambda_view_freshness_seconds',
    help: 'Age of the newest record each view counts',
    labelNames: ['view'],
    async collect() {
      this.reset();
      for (const view of catalog.views.keys()) {
        const [manifest, slices] = await Promise.all([store.readManifest(view), store.listSlices(view)]);
        const newest = Math.max(manifest?.newestRecordAt ?? -1, ...slices.map((slice) => slice.newestRecordAt ?? -1));
        const freshness = freshnessMs(newest < 0 ? null : newest, monitor.stalledFreshnessFrom(view), now());
        if (freshness !== null) this.set({ view }, freshness / 1000);
      }
    },
  });
  metrics.gauge({
    name: 'lambda_view_stalled_partitions',
    help: "Partitions where a view's position has not moved for health.stallAfterMs while the log holds records beyond it",
    labelNames: ['view'],
    async collect() {
      this.reset();
      for (const progress of (await monitor.sample()).views.values()) {
        // A view whose progress is unknown has no series: 0 would say it is fine.
        if (progress.status !== 'unknown') this.set({ view: progress.view }, progress.partitions.filter((partition) => partition.stalled).length);
      }
    },
  });
}
