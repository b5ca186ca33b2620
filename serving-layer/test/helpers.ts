/**
 * Shared test fixtures: a page-view catalog, generated records, a naive (record-by-record) computation of
 * what a view must answer, and hand-built slice and batch rows to put in a real view store.
 *
 * Row states are built here by hand in the aggregates' JSON shapes (count and sum: numbers; top_k: an
 * object of counts per value), and expected answers are computed straight from the records, so nothing
 * expected comes from the code under test.
 */
import {
  Catalog,
  EmbeddedViewStore,
  Metrics,
  loadConfig,
  silentLogger,
  type BatchManifest,
  type CatalogDefinition,
  type Ports,
  type Slice,
  type SliceRef,
  type ViewRow,
  type ViewStore,
} from '@lambda/core';
import { openPorts } from '@lambda/adapters';
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

/** Records counted at `position`: per partition, those with an offset below it. */
export function below(records: readonly PageView[], position: readonly number[]): PageView[] {
  return records.filter((record) => record.offset < (position[record.partition] ?? 0));
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

/** Row states of the view over `records`, in the aggregates' JSON shapes, as a layer would store them. */
export function rowsOf(records: readonly PageView[]): ViewRow[] {
  const rows = new Map<string, { key: string; windowStart: number; views: number; latency: number; referrers: Record<string, number> }>();
  for (const record of records) {
    const windowStart = windowStartOf(record.eventTime);
    const id = `${record.url} ${windowStart}`;
    let row = rows.get(id);
    if (!row) rows.set(id, (row = { key: record.url, windowStart, views: 0, latency: 0, referrers: {} }));
    row.views += 1;
    if (record.latency !== null) row.latency += record.latency;
    if (record.referrer !== null) row.referrers[record.referrer] = (row.referrers[record.referrer] ?? 0) + 1;
  }
  return [...rows.values()].map(({ key, windowStart, views, latency, referrers }) => ({ key, windowStart, state: { views, latency, referrers } }));
}

export function newestOf(records: readonly PageView[]): number | null {
  return records.length === 0 ? null : Math.max(...records.map((record) => record.timestamp));
}

/** Puts the slice of `partition` over offsets [start, end) holding those records. */
export async function putSlice(
  store: ViewStore,
  records: readonly PageView[],
  edges: { partition: number; start: number; end: number; closed: boolean },
  view = VIEW,
): Promise<Slice> {
  const inside = records.filter((r) => r.partition === edges.partition && r.offset >= edges.start && r.offset < edges.end);
  const slice: Slice = { view, ...edges, newestRecordAt: newestOf(inside) };
  await store.putSlice(slice, rowsOf(inside));
  return slice;
}

/** Writes and publishes a batch version counting exactly the records below `horizon`. */
export async function publishBatch(
  store: ViewStore,
  records: readonly PageView[],
  version: number,
  horizon: number[],
  publishedAt = BASE + 20 * MINUTE,
  view = VIEW,
): Promise<BatchManifest> {
  const covered = below(records, horizon);
  await store.putBatchRows(view, version, rowsOf(covered));
  const manifest: BatchManifest = { view, version, horizon, publishedAt, newestRecordAt: newestOf(covered), stats: { records: covered.length } };
  await store.publishBatchVersion(manifest);
  return manifest;
}

/** An embedded view store of its own, in a temporary directory. */
export async function openTestStore(): Promise<{ store: EmbeddedViewStore; close: () => Promise<void> }> {
  const dir = await makeTempDir('serving');
  const store = await EmbeddedViewStore.open({ directory: dir.path, fsync: 'never' });
  return {
    store,
    close: async () => {
      await store.close();
      await dir.remove();
    },
  };
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

/**
 * A view store that delegates every call to a real one, with hooks that run real writes at chosen
 * moments of a reader's work, as a concurrent publish or clean-up would.
 */
export class HookedViewStore implements ViewStore {
  readonly calls = { readManifest: 0, listSlices: 0, readSlice: 0, readBatchRows: 0 };
  /** Runs after a readManifest has read, before it returns what it read. */
  afterReadManifest?: (call: number) => Promise<void>;
  /** Runs before a readSlice reads; `after` runs once it has read. */
  beforeReadSlice?: (ref: SliceRef, call: number) => Promise<void>;
  afterReadSlice?: (call: number) => Promise<void>;
  beforeListSlices?: (call: number) => Promise<void>;
  afterListSlices?: (call: number) => Promise<void>;

  constructor(readonly inner: ViewStore) {}

  putSlice: ViewStore['putSlice'] = (slice, rows) => this.inner.putSlice(slice, rows);
  deleteSlices: ViewStore['deleteSlices'] = (refs) => this.inner.deleteSlices(refs);
  putBatchRows: ViewStore['putBatchRows'] = (view, version, rows) => this.inner.putBatchRows(view, version, rows);
  publishBatchVersion: ViewStore['publishBatchVersion'] = (manifest) => this.inner.publishBatchVersion(manifest);
  listBatchVersions: ViewStore['listBatchVersions'] = (view) => this.inner.listBatchVersions(view);
  deleteBatchVersion: ViewStore['deleteBatchVersion'] = (view, version) => this.inner.deleteBatchVersion(view, version);
  listViews: ViewStore['listViews'] = () => this.inner.listViews();
  close: ViewStore['close'] = () => this.inner.close();

  readManifest: ViewStore['readManifest'] = async (view) => {
    const call = ++this.calls.readManifest;
    const manifest = await this.inner.readManifest(view);
    await this.afterReadManifest?.(call);
    return manifest;
  };

  readBatchRows: ViewStore['readBatchRows'] = (view, version, filter) => {
    this.calls.readBatchRows++;
    return this.inner.readBatchRows(view, version, filter);
  };

  listSlices: ViewStore['listSlices'] = async (view) => {
    const call = ++this.calls.listSlices;
    await this.beforeListSlices?.(call);
    const slices = await this.inner.listSlices(view);
    await this.afterListSlices?.(call);
    return slices;
  };

  readSlice: ViewStore['readSlice'] = async (ref, filter) => {
    const call = ++this.calls.readSlice;
    await this.beforeReadSlice?.(ref, call);
    const read = await this.inner.readSlice(ref, filter);
    await this.afterReadSlice?.(call);
    return read;
  };
}
