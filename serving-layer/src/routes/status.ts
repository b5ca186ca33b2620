/** `GET /status`: how far each source topic's log reaches, and how far the speed layer has consumed it. */
import { Router } from 'express';
import type { Catalog, EventLog } from '@lambda/common';

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

export function statusRouter(catalog: Catalog, log: EventLog): Router {
  return Router().get('/status', async (_request, response) => {
    response.json(await topicStatus(catalog, log));
  });
}
