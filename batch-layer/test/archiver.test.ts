/**
 * The archiver against a real embedded log, a local lake and DuckDB: what lands in the lake (file names,
 * ranges, and the records inside, read back with DuckDB's read_parquet), resuming after the last file,
 * crashes, gaps, and concurrent runs.
 */
import { readdir, unlink } from 'node:fs/promises';
import {
  Catalog,
  CorruptDataError,
  type AppendedRecord,
  type CompiledSource,
  type JsonValue,
  type LogMessage,
  archiveKey,
  listArchiveFiles,
} from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Archiver, queryRows, type ArchiveProgress } from '../src/index.js';
import { BASE_TIME, PAGEVIEWS, TOPIC, message, openPlatform, type Platform } from './helpers.js';

/** What the archive must hold for one valid record, computed from the message the test appended. */
interface ExpectedRow {
  _partition: number;
  _offset: number;
  _timestamp: number;
  _key: string | null;
  _event_time: number;
  _value: string;
  url: string | null;
  user: string | null;
  referrer: string | null;
  latency: number | null;
  bot: boolean | null;
}

interface Appended {
  message: LogMessage;
  at: AppendedRecord;
  /** The row the archive must hold, or undefined for a record the source's decoder rejects. */
  row: ExpectedRow | undefined;
}

let platform: Platform;
let source: CompiledSource;
let appended: Appended[];
let clock: number;

beforeEach(async () => {
  platform = await openPlatform('archiver');
  await platform.eventLog.createTopic(TOPIC, { partitions: 2 });
  source = Catalog.compile({ sources: [PAGEVIEWS], views: [] }).sources.get(TOPIC)!;
  appended = [];
  clock = BASE_TIME;
});

afterEach(async () => {
  await platform.close();
});

function archiver(maxRecordsPerFile?: number): Archiver {
  return new Archiver({
    eventLog: platform.eventLog,
    lake: platform.lake,
    engine: platform.engine,
    workDirectory: `${platform.directory}/work`,
    logger: platform.logger,
    maxRecordsPerFile,
  });
}

/** A valid page view: its JSON, and the archive row expected for it (offset filled in once appended). */
function pageview(partition: number, n: number, options: { key?: string | null; eventTimeBehind?: number } = {}) {
  const timestamp = (clock += 1000);
  const eventTime = timestamp - (options.eventTimeBehind ?? 0);
  // Fields vary: some absent, some null, fractional latencies, unicode text.
  const value: Record<string, JsonValue> = { ts: eventTime, url: ['/', '/home', '/ü', "/it's"][n % 4]!, user: `u${n % 7}` };
  if (n % 3 !== 0) value.latency = n * 10.25;
  if (n % 5 === 0) value.referrer = null;
  else if (n % 2 === 0) value.referrer = 'https://example.org/é';
  if (n % 4 !== 1) value.bot = n % 4 === 0;
  const key = options.key === undefined ? `u${n % 7}` : options.key;
  const text = JSON.stringify(value);
  const row: ExpectedRow = {
    _partition: partition,
    _offset: -1,
    _timestamp: timestamp,
    _key: key,
    _event_time: eventTime,
    _value: text,
    url: value.url as string,
    user: value.user as string,
    referrer: (value.referrer as string | null | undefined) ?? null,
    latency: (value.latency as number | undefined) ?? null,
    bot: (value.bot as boolean | undefined) ?? null,
  };
  return { message: message(partition, text, timestamp, key), row };
}

/** Records the source's decoder must reject, one of each kind. */
function invalid(partition: number, kind: 'not json' | 'no event time' | 'wrong type' | 'not an object' | 'before 1970') {
  const timestamp = (clock += 1000);
  const text = {
    'not json': '{"ts": 1, "url": ',
    'no event time': JSON.stringify({ url: '/home' }),
    'wrong type': JSON.stringify({ ts: timestamp, url: '/home', latency: 'slow' }),
    'not an object': JSON.stringify([timestamp, '/home']),
    'before 1970': JSON.stringify({ ts: -5, url: '/home' }),
  }[kind];
  return { message: message(partition, text, timestamp), row: undefined };
}

async function append(records: { message: LogMessage; row: ExpectedRow | undefined }[]): Promise<void> {
  const offsets = await platform.eventLog.append(
    TOPIC,
    records.map((record) => record.message),
  );
  records.forEach((record, i) => {
    const at = offsets[i]!;
    expect(at.partition).toBe(record.message.partition);
    appended.push({ message: record.message, at, row: record.row && { ...record.row, _offset: at.offset } });
  });
}

/** Valid records appended with partition/offset in the given ranges, in archive order. */
function expectedRows(ranges: Record<number, [from: number, to: number]>): ExpectedRow[] {
  return appended
    .filter(({ at, row }) => row && ranges[at.partition] && at.offset >= ranges[at.partition]![0] && at.offset < ranges[at.partition]![1])
    .map(({ row }) => row!)
    .sort((a, b) => a._partition - b._partition || a._offset - b._offset);
}

/** Every row of the given lake objects, read back with DuckDB, BIGINTs as numbers. */
async function readArchive(keys: string[]): Promise<ExpectedRow[]> {
  if (keys.length === 0) return [];
  const paths = keys.map((key) => `'${platform.lake.localPath(key).replaceAll("'", "''")}'`);
  const rows = await platform.engine.withConnection((connection) =>
    queryRows(connection, `SELECT * FROM read_parquet([${paths.join(', ')}]) ORDER BY _partition, _offset`),
  );
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === 'bigint' ? Number(value) : value])),
  ) as unknown as ExpectedRow[];
}

/** The lake's archive objects with their ETags, to tell whether a run wrote anything. */
async function lakeObjects(): Promise<Record<string, string>> {
  const objects: Record<string, string> = {};
  for await (const info of platform.lake.list('master/')) objects[info.key] = info.etag;
  return objects;
}

const key = (partition: number, from: number, to: number) => archiveKey(TOPIC, partition, from, to);

/** The files a run returns are every archive file there is, as a listing finds them. */
async function expectFilesListed(result: { files: { key: string; from: number; to: number }[][] }): Promise<void> {
  for (let partition = 0; partition < result.files.length; partition++) {
    const listed = await listArchiveFiles(platform.lake, TOPIC, partition);
    expect(result.files[partition]!.map(({ key, from, to }) => ({ key, from, to }))).toEqual(listed.map(({ key, from, to }) => ({ key, from, to })));
  }
}

describe('the archiver', () => {
  describe('when a topic is archived for the first time', () => {
    beforeEach(async () => {
      await append([
        pageview(0, 0),
        pageview(0, 1, { key: null }),
        invalid(0, 'not json'),
        pageview(0, 2, { eventTimeBehind: 5 * 60_000 }),
        invalid(0, 'wrong type'),
        pageview(0, 3),
        invalid(0, 'no event time'),
        pageview(1, 4),
        invalid(1, 'not an object'),
        pageview(1, 5, { eventTimeBehind: 90_000 }),
        invalid(1, 'before 1970'),
      ]);
    });

    it('should write one file per partition named by its zero-padded offset range', async () => {
      const result = await archiver().archiveTopic(source);

      expect(result).toMatchObject({ archivedTo: [7, 4], filesWritten: 2, records: 11 });
      await expectFilesListed(result);
      expect(Object.keys(await lakeObjects())).toEqual([
        'master/pageviews/0/00000000000000000000-00000000000000000007.parquet',
        'master/pageviews/1/00000000000000000000-00000000000000000004.parquet',
      ]);
      expect(await listArchiveFiles(platform.lake, TOPIC, 0)).toMatchObject([{ partition: 0, from: 0, to: 7 }]);
      expect(await archiver().archivedEnds(TOPIC, 2)).toEqual([7, 4]);
    });

    it('should hold exactly the valid records, typed, and leave the invalid ones out', async () => {
      await archiver().archiveTopic(source);

      const rows = await readArchive([key(0, 0, 7), key(1, 0, 4)]);
      expect(rows).toEqual(expectedRows({ 0: [0, 7], 1: [0, 4] }));
      expect(rows.map((row) => `${row._partition}:${row._offset}`)).toEqual(['0:0', '0:1', '0:3', '0:5', '1:0', '1:2']);
      // A fractional latency stays a double; an absent field and a null one are both NULL.
      expect(rows.find((row) => row._partition === 0 && row._offset === 1)).toMatchObject({ latency: 10.25, bot: null, _key: null });
    });

    it('should report its progress up to every record of the range', async () => {
      const progress: ArchiveProgress[] = [];
      await archiver(2).archiveTopic(source, { onProgress: (report) => progress.push(report) });

      expect(progress[0]).toEqual({ topic: TOPIC, recordsDone: 0, recordsTotal: 11 });
      expect(progress.at(-1)).toEqual({ topic: TOPIC, recordsDone: 11, recordsTotal: 11 });
      const done = progress.map((report) => report.recordsDone);
      expect(done).toEqual([...done].sort((a, b) => a - b));
    });
  });

  describe('when nothing was appended since the last run', () => {
    it('should write nothing', async () => {
      await append([pageview(0, 0), pageview(0, 1), pageview(1, 2)]);
      await archiver().archiveTopic(source);
      const before = await lakeObjects();

      const result = await archiver().archiveTopic(source);

      expect(result).toMatchObject({ archivedTo: [2, 1], filesWritten: 0, records: 0 });
      await expectFilesListed(result);
      expect(await lakeObjects()).toEqual(before);
    });
  });

  describe('when records are appended after a run', () => {
    it('should write only the new range, in files that chain on to the old ones', async () => {
      await append([pageview(0, 0), pageview(0, 1), pageview(1, 2)]);
      await archiver().archiveTopic(source);
      const before = await lakeObjects();
      await append([pageview(0, 3), invalid(0, 'not json'), pageview(0, 4)]);

      const result = await archiver().archiveTopic(source);

      expect(result).toMatchObject({ archivedTo: [5, 1], filesWritten: 1, records: 3 });
      await expectFilesListed(result);
      const after = await lakeObjects();
      expect(Object.keys(after).filter((k) => !(k in before))).toEqual([key(0, 2, 5)]);
      for (const [k, etag] of Object.entries(before)) expect(after[k]).toBe(etag);
      expect((await listArchiveFiles(platform.lake, TOPIC, 0)).map(({ from, to }) => [from, to])).toEqual([
        [0, 2],
        [2, 5],
      ]);
      expect(await readArchive([key(0, 2, 5)])).toEqual(expectedRows({ 0: [2, 5] }));
    });
  });

  describe('when upTo is given', () => {
    it('should archive each partition up to its offset and no further', async () => {
      await append([0, 1, 2, 3, 4, 5].map((n) => pageview(n % 2, n)));

      const result = await archiver().archiveTopic(source, { upTo: [2, 0] });

      expect(result).toMatchObject({ archivedTo: [2, 0], filesWritten: 1, records: 2 });
      await expectFilesListed(result);
      expect(Object.keys(await lakeObjects())).toEqual([key(0, 0, 2)]);
      expect(await readArchive([key(0, 0, 2)])).toEqual(expectedRows({ 0: [0, 2] }));
    });

    it('should never go beyond the log, whatever upTo asks', async () => {
      await append([pageview(0, 0), pageview(1, 1)]);

      const result = await archiver().archiveTopic(source, { upTo: [100, 100] });

      expect(result.archivedTo).toEqual([1, 1]);
      expect(Object.keys(await lakeObjects())).toEqual([key(0, 0, 1), key(1, 0, 1)]);
    });
  });

  describe('when a range holds more records than a file may', () => {
    it('should split it into chained files of at most that many offsets', async () => {
      await append([pageview(0, 0), invalid(0, 'not json'), pageview(0, 1), pageview(0, 2), pageview(0, 3), invalid(0, 'wrong type'), pageview(0, 4)]);

      const result = await archiver(3).archiveTopic(source);

      expect(result).toMatchObject({ archivedTo: [7, 0], filesWritten: 3, records: 7 });
      await expectFilesListed(result);
      expect(Object.keys(await lakeObjects())).toEqual([key(0, 0, 3), key(0, 3, 6), key(0, 6, 7)]);
      expect(await readArchive([key(0, 0, 3), key(0, 3, 6), key(0, 6, 7)])).toEqual(expectedRows({ 0: [0, 7] }));
    });
  });

  describe('when a run crashed before its last file reached the lake', () => {
    it('should rewrite exactly that range on the next run, and never a record twice', async () => {
      await append([0, 1, 2, 3, 4, 5, 6, 7].map((n) => pageview(0, n)));
      await archiver(3).archiveTopic(source);
      expect(Object.keys(await lakeObjects())).toEqual([key(0, 0, 3), key(0, 3, 6), key(0, 6, 8)]);
      const before = await lakeObjects();
      // As if the put of the newest file never happened.
      await platform.lake.delete(key(0, 6, 8));

      const result = await archiver(3).archiveTopic(source);

      expect(result).toMatchObject({ archivedTo: [8, 0], filesWritten: 1, records: 2 });
      await expectFilesListed(result);
      expect(await lakeObjects()).toEqual(before);
      const rows = await readArchive(Object.keys(before));
      expect(rows).toEqual(expectedRows({ 0: [0, 8] }));
      expect(new Set(rows.map((row) => row._offset)).size).toBe(rows.length);
    });

    it('should leave no temporary file behind in the work directory', async () => {
      await append([pageview(0, 0), pageview(0, 1)]);
      await archiver(1).archiveTopic(source);
      expect(await readdir(`${platform.directory}/work`)).toEqual([]);
    });
  });

  describe('when a file in the middle of the archive is missing', () => {
    beforeEach(async () => {
      await append([0, 1, 2, 3, 4, 5].map((n) => pageview(1, n)));
      await archiver(2).archiveTopic(source);
      await unlink(platform.lake.localPath(key(1, 2, 4)));
    });

    it('should make listArchiveFiles throw a CorruptDataError naming the topic and partition', async () => {
      const error = await listArchiveFiles(platform.lake, TOPIC, 1).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(CorruptDataError);
      expect((error as CorruptDataError).message).toContain(`${TOPIC}/1`);
      expect((error as CorruptDataError).context).toEqual({ topic: TOPIC, partition: 1 });
      // The other partition is whole.
      expect(await listArchiveFiles(platform.lake, TOPIC, 0)).toEqual([]);
    });

    it('should refuse to archive on top of the gap, writing nothing', async () => {
      await append([pageview(1, 6)]);
      const before = await lakeObjects();

      await expect(archiver(2).archiveTopic(source)).rejects.toBeInstanceOf(CorruptDataError);
      expect(await lakeObjects()).toEqual(before);
    });
  });

  describe('when archiveTopic is called concurrently on one topic', () => {
    it('should never write overlapping files, nor any record twice', async () => {
      const shared = archiver(3);
      const runs: Promise<unknown>[] = [];
      for (let round = 0; round < 5; round++) {
        await append([0, 1, 2, 3].map((n) => pageview((n + round) % 2, round * 4 + n)));
        // Several runs at once, with and without a limit, while appends go on.
        runs.push(shared.archiveTopic(source), shared.archiveTopic(source, { upTo: [round * 2, round * 2] }), shared.archiveTopic(source));
      }
      await Promise.all(runs);
      await shared.archiveTopic(source);

      const keys: string[] = [];
      for (const partition of [0, 1]) {
        // Throws if two files overlap (or leave a gap).
        const files = await listArchiveFiles(platform.lake, TOPIC, partition);
        expect(files[0]?.from).toBe(0);
        expect(files.at(-1)?.to).toBe(10);
        keys.push(...files.map((file) => file.key));
      }
      const rows = await readArchive(keys);
      expect(rows).toEqual(expectedRows({ 0: [0, 10], 1: [0, 10] }));
    });
  });
});
