/**
 * `GET /status`: how far each source topic's log reaches, and how far the speed layer has consumed it;
 * per view, how far it counts on each partition and whether it is stalled there (the same verdict as
 * /health); and the speed layer's own report when it runs in this process.
 */
import { Router } from 'express';
import type { Catalog, EventLog, SpeedLayerHealth } from '@lambda/core';
import { judgeSpeedLayer } from '../health/speed-layer-verdict.js';
import type { ViewProgressMonitor } from '../health/view-progress-monitor.js';

export const SPEED_LAYER_GROUP = 'speed-layer';

export async function topicStatus(catalog: Catalog, log: EventLog) {
  const topics = [];
  for (const topic of catalog.sources.keys()) {
    const ends = await log.endOffsets(topic).catch(() => undefined);
    if (!ends) continue; // not created yet
    const committed = await log.committedOffsets(SPEED_LAYER_GROUP, topic);
    topics.push({
      topic,
      partitions: ends.map((endOffset, partition) => ({
        partition,
        endOffset,
        committed: committed.get(partition) ?? null,
        lag: endOffset - (committed.get(partition) ?? 0),
      })),
    });
  }
  return { topics };
}

export interface StatusRouterOptions {
  monitor: ViewProgressMonitor;
  /** The speed layer's own report, when it runs in this process. */
  speedLayerHealth?: () => SpeedLayerHealth;
}

export function statusRouter(catalog: Catalog, log: EventLog, options: StatusRouterOptions): Router {
  return Router().get('/status', async (_request, response) => {
    const [{ topics }, progress] = await Promise.all([topicStatus(catalog, log), options.monitor.sample()]);
    const views = [...progress.views.values()].map(({ view, topic, status, reason, lag, partitions }) => ({ view, topic, status, reason, lag, partitions }));
    response.json({ topics, views, speedLayer: judgeSpeedLayer(options.speedLayerHealth) });
  });
}
