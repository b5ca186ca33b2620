/**
 * A recompute whose lake is S3 (s3rver, a real S3 HTTP API) gives the same batch view as one over the
 * local lake: the archive goes to the bucket, DuckDB reads it through the lake file cache. Both runs read
 * the same embedded log, and each writes into a view store of its own; the expected rows are also
 * counted here, record by record.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, EmbeddedViewStore, type Lake, type ViewDefinition, type ViewRow, type ViewStore, MASTER_PREFIX } from '@lambda/core';
import { S3Lake } from '@lambda/adapters';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startS3Server, type S3TestServer } from '@lambda/test-kit';
import { Archiver, Recomputer } from '../src/index.js';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers.js';

const VIEW = 'pageviews_by_url';
const VIEWS: ViewDefinition[] = [
  { name: VIEW, source: TOPIC, key: 'url', window: { type: 'tumbling', size: '1m' }, aggregates: { views: 'count()', total: 'sum(latency)' } },
];
const URLS = ['/', '/home', '/ü', '/a b'];

interface Sent {
  partition: number;
  offset: number;
  url: string;
  latency: number;
  eventTime: number;
}

let platform: Platform;
let s3: S3TestServer;
let s3Lake: S3Lake;
let s3Views: EmbeddedViewStore;
let catalog: Catalog;
let sent: Sent[];

beforeEach(async () => {
  platform = await openPlatform('recompute-on-s3');
  s3 = await startS3Server();
  s3Lake = await S3Lake.open({ bucket: s3.bucket, prefix: 'platform', endpoint: s3.endpoint, credentials: s3.credentials, forcePathStyle: true });
  s3Views = await EmbeddedViewStore.open({ directory: join(platform.directory, 's3-views'), fsync: 'never' });
  await platform.eventLog.createTopic(TOPIC, { partitions: 2 });
  catalog = Catalog.compile({ sources: [PAGEVIEWS], views: VIEWS });
  sent = [];
});

afterEach(async () => {
  await s3Views.close();
  await s3Lake.close();
  await s3.close();
  await platform.close();
});

/** Appends `count` records to a partition, event times spread over five minutes. */
async function append(partition: number, count: number): Promise<void> {
  const values = Array.from({ length: count }, (_, i) => {
    const n = sent.length + i;
    return { url: URLS[(n * 7) % URLS.length]!, latency: (n * 37) % 500, eventTime: BASE_TIME + ((n * 7919) % 300) * 1000 };
  });
  const offsets = await platform.eventLog.append(
    TOPIC,
    values.map((value, i) => message(partition, { ts: value.eventTime, url: value.url, latency: value.latency, user: 'u' }, BASE_TIME + 600_000 + i)),
  );
  values.forEach((value, i) => sent.push({ partition, offset: offsets[i]!.offset, ...value }));
}

/** Closed slices ending at `edges` (one per partition), in both view stores, as the speed layer would write them. */
async function sliceEdgesAt(edges: number[], from: number[]): Promise<void> {
  for (const store of [platform.viewStore, s3Views] as ViewStore[]) {
    for (const [partition, end] of edges.entries()) {
      await store.putSlice({ view: VIEW, partition, start: from[partition]!, end, closed: true, newestRecordAt: null }, []);
    }
  }
}

function recomputer(lake: Lake, viewStore: ViewStore, work: string): Recomputer {
  const archiver = new Archiver({ eventLog: platform.eventLog, lake, engine: platform.engine, workDirectory: join(platform.directory, work), logger: platform.logger });
  return new Recomputer({
    viewStore,
    lake,
    engine: platform.engine,
    archiver,
    catalog,
    logger: platform.logger,
    lakeCacheDir: join(platform.directory, 'lake-cache'),
  });
}

/** Per url and minute below the horizon: the count and latency sum, counted here. */
function naiveRows(horizon: number[]): ViewRow[] {
  const rows = new Map<string, ViewRow & { state: { views: number; total: number } }>();
  for (const record of sent.filter((r) => r.offset < horizon[r.partition]!)) {
    const windowStart = record.eventTime - (record.eventTime % 60_000);
    const id = `${record.url} ${windowStart}`;
    const row = rows.get(id) ?? { key: record.url, windowStart, state: { views: 0, total: 0 } };
    row.state.views += 1;
    row.state.total += record.latency;
    rows.set(id, row);
  }
  return sortRows([...rows.values()]);
}

const sortRows = (rows: readonly ViewRow[]): ViewRow[] =>
  [...rows].sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/** Every file of the cache (not its temporary folders), with its inode: a file downloaded again gets a new one. */
async function cachedFiles(): Promise<Map<string, number>> {
  const root = join(platform.directory, 'lake-cache');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = new Map<string, number>();
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && !path.startsWith(join(root, '.tmp'))) files.set(path, (await stat(path)).ino);
  }
  return files;
}

describe('a recompute over the lake on S3', () => {
  it('should publish the same batch view as over the local lake, reading the archive through the cache', async () => {
    await append(0, 40);
    await append(1, 25);
    await sliceEdgesAt([30, 20], [0, 0]);
    const local = (await recomputer(platform.lake, platform.viewStore, 'work-local').run(VIEW))!;
    const onS3 = (await recomputer(s3Lake, s3Views, 'work-s3').run(VIEW))!;

    expect(onS3).toMatchObject({ version: local.version, horizon: [30, 20], newestRecordAt: local.newestRecordAt, stats: { rows: local.stats!.rows } });
    const rows = sortRows(await s3Views.readBatchRows(VIEW, onS3.version));
    expect(rows).toEqual(sortRows(await platform.viewStore.readBatchRows(VIEW, local.version)));
    expect(rows).toEqual(naiveRows([30, 20]));
    expect(rows.length).toBeGreaterThan(8);

    // The archive is in the bucket, under the lake's prefix, and each file was downloaded once.
    const archived: string[] = [];
    for await (const info of s3Lake.list(`${MASTER_PREFIX}/`)) archived.push(info.key);
    expect(archived.length).toBeGreaterThanOrEqual(2);
    expect(await s3Lake.head(archived[0]!)).toMatchObject({ key: archived[0] });
    expect((await cachedFiles()).size).toBe(archived.length);
  });

  it('should read new archive files on the next run and reuse the copies it has', async () => {
    await append(0, 20);
    await append(1, 10);
    await sliceEdgesAt([20, 10], [0, 0]);
    const s3Recomputer = recomputer(s3Lake, s3Views, 'work-s3');
    await s3Recomputer.run(VIEW);
    const before = await cachedFiles();

    await append(0, 15);
    await append(1, 15);
    await sliceEdgesAt([35, 25], [20, 10]);
    const second = (await s3Recomputer.run(VIEW))!;
    const local = (await recomputer(platform.lake, platform.viewStore, 'work-local').run(VIEW))!;

    expect(second).toMatchObject({ version: 2, horizon: [35, 25] });
    const rows = sortRows(await s3Views.readBatchRows(VIEW, 2));
    expect(rows).toEqual(naiveRows([35, 25]));
    expect(rows).toEqual(sortRows(await platform.viewStore.readBatchRows(VIEW, local.version)));
    const after = await cachedFiles();
    // The first run's copies are the very same files; the new archive files were added beside them.
    for (const [path, inode] of before) expect(after.get(path)).toBe(inode);
    expect(after.size).toBeGreaterThan(before.size);
  });
});
