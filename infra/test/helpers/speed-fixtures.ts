/**
 * The speed layer's page-view fixtures, for the infra tests that reprocess a view and read it through the
 * serving layer (the speed layer's own tests keep theirs): a real embedded log and view store in a temp
 * dir, the url view, generated page views and a naive oracle of the rows a reader must be served.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Catalog,
  EmbeddedEventLog,
  EmbeddedViewStore,
  seededRandom,
  type AppendedRecord,
  type EventLog,
  type JsonObject,
} from '@lambda/core';

export const TOPIC = 'pageviews';

export const PARTITIONS = 3;

/** Per url, per 1-minute tumbling window: count(), sum(latency), max(latency). */
export const URL_VIEW = 'pageviews_by_url';

export const MINUTE = 60_000;

/** 2026-01-01T10:00:00Z */
export const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** A catalog with only the url view, for tests that want one view per topic. */
export function makeUrlOnlyCatalog(): Catalog {
  return Catalog.compile({
    sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { url: 'string', user: 'string', latency: 'number' } }],
    views: [
      {
        name: URL_VIEW,
        source: TOPIC,
        key: 'url',
        window: { type: 'tumbling', size: '1m' },
        aggregates: { views: 'count()', total: 'sum(latency)', slowest: 'max(latency)' },
      },
    ],
  });
}

export interface Platform {
  dir: string;
  log: EmbeddedEventLog;
  store: EmbeddedViewStore;
  cleanUp: () => Promise<void>;
}

/** A fresh embedded log (with the source topic, PARTITIONS partitions) and view store in a temp dir. */
export async function openPlatform(label: string): Promise<Platform> {
  const dir = await mkdtemp(join(tmpdir(), `lambda-speed-${label}-`));
  const log = await EmbeddedEventLog.open({ directory: join(dir, 'log'), fsync: 'never' });
  const store = await EmbeddedViewStore.open({ directory: join(dir, 'views'), fsync: 'never' });
  await log.createTopic(TOPIC, { partitions: PARTITIONS });
  return {
    dir,
    log,
    store,
    cleanUp: async () => {
      await log.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PageView {
  partition: number;
  url: string;
  /** Absent: the user view leaves the record out (NULL key). */
  user?: string;
  /** null: counted by count(), ignored by sum() and max(). */
  latency: number | null;
  /** Event time, epoch ms. */
  ts: number;
}

/** Appends page views, each to its pinned partition, in order; returns where each landed. */
export async function appendViews(log: EventLog, events: readonly PageView[]): Promise<AppendedRecord[]> {
  if (events.length === 0) return [];
  return log.append(
    TOPIC,
    events.map((event) => ({
      partition: event.partition,
      key: event.url,
      value: JSON.stringify({ url: event.url, user: event.user, latency: event.latency, ts: event.ts }),
    })),
  );
}

/** `count` page views over a few urls, users, partitions and minutes (event times in any order). */
export function generateViews(count: number, seed: number, options: { minutes?: number; from?: number } = {}): PageView[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const minutes = options.minutes ?? 5;
  const from = options.from ?? T0;
  return Array.from({ length: count }, () => {
    const event: PageView = {
      partition: Math.floor(random() * PARTITIONS),
      url: pick(['/', '/cart', '/checkout', '/search']),
      latency: random() < 0.1 ? null : Math.floor(random() * 2000),
      ts: from + Math.floor(random() * minutes * MINUTE),
    };
    if (random() < 0.9) event.user = pick(['ada', 'bob', 'cy']);
    return event;
  });
}

/** Rows by `${key}@${windowStart}`, each the view's results (what a reader would be served). */
export type Rows = Record<string, JsonObject>;

/** The url view computed naively from the events: group by url and minute, count, add and compare. */
export function expectedUrlRows(events: readonly PageView[]): Rows {
  const rows: Record<string, { views: number; total: number; slowest: number | null }> = {};
  for (const event of events) {
    const windowStart = event.ts - (event.ts % MINUTE);
    const row = (rows[`${event.url}@${windowStart}`] ??= { views: 0, total: 0, slowest: null });
    row.views += 1;
    if (event.latency !== null) {
      row.total += event.latency;
      row.slowest = row.slowest === null ? event.latency : Math.max(row.slowest, event.latency);
    }
  }
  return rows;
}

