/**
 * The serving layer's API fixtures, for the infra test of its reprocess endpoints over a real speed-layer
 * reprocessor (the serving layer's own tests keep theirs): a page-view catalog, generated records, a naive
 * answer computed record by record, every port on its embedded adapter, a server on a real socket, a small
 * HTTP client, and a check that a body is exactly what a response schema describes.
 */
import { expect } from 'vitest';
import type { z } from 'zod';
import { openPorts } from '@lambda/adapters';
import { Catalog, Metrics, loadConfig, silentLogger, type CatalogDefinition, type Ports } from '@lambda/core';
import { createServer, listen, type RunningServer, type ServingOptions } from '@lambda/serving-layer';
import { makeTempDir } from '@lambda/test-kit';

export const MINUTE = 60_000;

/** 2024-01-01T12:00:00Z: a whole minute, so window starts are BASE + k minutes. */
export const BASE = Date.UTC(2024, 0, 1, 12, 0, 0);

export const VIEW = 'pageviews_by_url';

export const URLS = ['/a', '/b', '/c', '/d'] as const;

const REFERRERS = ['google', 'bing', 'ddg', 'news', null] as const;

export const catalogDefinition: CatalogDefinition = {
  sources: [
    {
      topic: 'pageviews',
      eventTimeField: 'ts',
      fields: { url: 'string', latency: 'number', referrer: 'string', user: 'string' },
      partitionKey: 'user',
    },
    { topic: 'clicks', eventTimeField: 'at', fields: { target: 'string' } },
  ],
  views: [
    {
      name: VIEW,
      description: 'Views, total latency and top referrers per page per minute',
      source: 'pageviews',
      key: 'url',
      window: { type: 'tumbling', size: '1m' },
      aggregates: { views: 'count()', latency: 'sum(latency)', referrers: 'top_k(referrer, 2)' },
    },
    {
      name: 'slow_pages',
      source: 'pageviews',
      derive: { slow: 'latency > 1000' },
      filter: 'slow',
      key: ['url', 'referrer'],
      window: { type: 'hopping', size: '5m', slide: '1m' },
      aggregates: { n: 'count()', worst: 'max(latency)' },
    },
    {
      name: 'site_totals',
      source: 'pageviews',
      key: [],
      aggregates: { views: 'count()' },
    },
  ],
};

export function testCatalog(): Catalog {
  return Catalog.compile(catalogDefinition);
}

export interface PageView {
  partition: number;
  offset: number;
  /** Log timestamp, for freshness. */
  timestamp: number;
  eventTime: number;
  url: string;
  latency: number | null;
  referrer: string | null;
}

/**
 * Records of each partition at offsets 0..count-1, with event times over six minutes from BASE (some
 * exactly on a window edge), and log timestamps increasing with the offset.
 */
export function generateRecords(random: () => number, counts: readonly number[]): PageView[] {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const records: PageView[] = [];
  counts.forEach((count, partition) => {
    for (let offset = 0; offset < count; offset++) {
      const minute = Math.floor(random() * 6);
      const eventTime = BASE + minute * MINUTE + (random() < 0.15 ? 0 : Math.floor(random() * MINUTE));
      records.push({
        partition,
        offset,
        timestamp: BASE + 10 * MINUTE + offset * 1000 + partition * 7,
        eventTime,
        url: pick(URLS),
        latency: random() < 0.1 ? null : Math.floor(random() * 2000),
        referrer: pick(REFERRERS),
      });
    }
  });
  return records;
}

export interface ExpectedWindow {
  key: string;
  windowStart: number;
  windowEnd: number;
  values: { views: number; latency: number; referrers: { value: string; count: number }[] };
}

export interface Query {
  keys?: readonly string[];
  from?: number;
  to?: number;
}

function windowStartOf(eventTime: number): number {
  return Math.floor(eventTime / MINUTE) * MINUTE;
}

/** What the view must answer over exactly `records`, computed record by record. */
export function naiveAnswer(records: readonly PageView[], query: Query = {}): ExpectedWindow[] {
  const groups = new Map<string, { key: string; windowStart: number; views: number; latency: number; referrers: Map<string, number> }>();
  for (const record of records) {
    const windowStart = windowStartOf(record.eventTime);
    if (query.keys && !query.keys.includes(record.url)) continue;
    if (query.from !== undefined && windowStart < query.from) continue;
    if (query.to !== undefined && windowStart >= query.to) continue;
    const id = `${record.url} ${windowStart}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { key: record.url, windowStart, views: 0, latency: 0, referrers: new Map() }));
    group.views += 1;
    if (record.latency !== null) group.latency += record.latency;
    if (record.referrer !== null) group.referrers.set(record.referrer, (group.referrers.get(record.referrer) ?? 0) + 1);
  }
  return [...groups.values()]
    .sort((a, b) => (a.key === b.key ? a.windowStart - b.windowStart : a.key < b.key ? -1 : 1))
    .map((group) => ({
      key: group.key,
      windowStart: group.windowStart,
      windowEnd: group.windowStart + MINUTE,
      values: {
        views: group.views,
        latency: group.latency,
        referrers: [...group.referrers]
          .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
          .slice(0, 2)
          .map(([value, count]) => ({ value, count })),
      },
    }));
}

/** Every port on its embedded adapter, in a temporary data directory, as the existing tests open them. */
export async function openTestPorts(): Promise<{ ports: Ports; metrics: Metrics; close: () => Promise<void> }> {
  const dir = await makeTempDir('serving');
  const metrics = new Metrics();
  const ports = await openPorts(loadConfig({ env: {}, overrides: { dataDir: dir.path } }), { logger: silentLogger(), metrics });
  return {
    ports,
    metrics,
    close: async () => {
      await ports.close();
      await dir.remove();
    },
  };
}

/** Serves `createServer` on 127.0.0.1, on a free port. */
export async function serve(options: {
  ports: Ports;
  catalog: Catalog;
  metrics: Metrics;
  apiToken?: string;
  maxIngestBytes?: number;
  reprocess?: ServingOptions['reprocess'];
  reportsDirectory?: string;
  speedLayerHealth?: ServingOptions['speedLayerHealth'];
  stallAfterMs?: number;
  now?: () => number;
}): Promise<RunningServer> {
  return listen(createServer({ logger: silentLogger(), ...options }), { host: '127.0.0.1', port: 0 });
}

export interface Answer {
  status: number;
  type: string | null;
  headers: Headers;
  body: unknown;
}

/** A small client: JSON in, JSON (or text) out, with an optional bearer token. */
export function client(base: string, token?: string) {
  const call = async (method: string, path: string, options: { query?: [string, string][]; body?: string; headers?: Record<string, string> } = {}) => {
    const search = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const headers: Record<string, string> = { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
    const response = await fetch(`${base}${path}${search}`, { method, body: options.body, headers });
    const type = response.headers.get('content-type');
    const text = await response.text();
    return { status: response.status, type, headers: response.headers, body: type?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text };
  };
  return {
    get: (path: string, query?: [string, string][], headers?: Record<string, string>): Promise<Answer> => call('GET', path, { query, headers }),
    post: (path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> =>
      call('POST', path, {
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      }),
  };
}

/**
 * Checks that `body` is exactly what `schema` describes: it parses, and parsing drops nothing (a field
 * the schema does not name would be stripped, and the comparison would fail). Returns it typed.
 */
export function conforms<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  expect(parsed.error?.issues ?? [], 'the body conforms to its schema').toEqual([]);
  expect(parsed.data, 'the schema names every field of the body').toStrictEqual(body);
  return parsed.data as z.output<S>;
}

