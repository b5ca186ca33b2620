/**
 * The lake file cache over a real lake (a local folder; the cache only uses get and head, as it would on
 * S3), wrapped to count the downloads, or to fail one midway.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConnectionError, CorruptDataError, LakeFileCache, LocalLake, ObjectNotFoundError, type Lake } from '../src/index.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '@lambda/test-kit';

/** A lake without local files, counting gets, and able to break the next gets' bodies midway or lie about a size. */
class CountingLake implements Lake {
  gets = 0;
  /** How many of the next gets have their body cut off, and with what. */
  breakBodies = 0;
  breakWith: () => Error = () => new Error('connection dropped');
  misreportNextSize = false;

  constructor(private readonly inner: LocalLake) {}

  put = (key: string, body: Parameters<Lake['put']>[1]) => this.inner.put(key, body);
  head = (key: string) => this.inner.head(key);
  list = (prefix: string) => this.inner.list(prefix);
  delete = (key: string) => this.inner.delete(key);
  close = () => this.inner.close();

  async get(key: string): ReturnType<Lake['get']> {
    this.gets++;
    const got = await this.inner.get(key);
    if (this.misreportNextSize) {
      this.misreportNextSize = false;
      return { info: { ...got.info, size: got.info.size + 1 }, body: got.body };
    }
    if (this.breakBodies === 0) return got;
    this.breakBodies--;
    got.body.destroy();
    let sent = false;
    const failure = this.breakWith();
    const broken = new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(Buffer.alloc(1000, 1));
        } else this.destroy(failure);
      },
    });
    return { info: got.info, body: broken };
  }
}

const md5Etag = (content: string | Buffer) => `"${createHash('md5').update(content).digest('hex')}"`;

describe('the lake file cache', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let lake: CountingLake;
  let cacheDir: string;
  let cache: LakeFileCache;

  /** Every file under the cache's directory except its temporary folders, relative to it. */
  async function cachedFiles(): Promise<string[]> {
    const entries = await readdir(cacheDir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(cacheDir.length + 1))
      .filter((path) => !path.startsWith('.tmp'))
      .sort();
  }

  /** Files left in temporary folders. */
  async function temporaryFiles(): Promise<string[]> {
    const entries = await readdir(join(cacheDir, '.tmp'), { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  }

  beforeEach(async () => {
    dir = await makeTempDir('lake-file-cache');
    lake = new CountingLake(await LocalLake.open({ directory: join(dir.path, 'lake'), fsync: false }));
    cacheDir = join(dir.path, 'cache');
    cache = await LakeFileCache.open({ lake, directory: cacheDir });
  });

  afterEach(async () => {
    await lake.close();
    await dir.remove();
  });

  describe('when a file is asked for the first time', () => {
    it('should download it once, into a file holding its bytes, named by its ETag', async () => {
      const content = Buffer.from('PAR1 pretend parquet PAR1');
      const { etag } = await lake.put('master/t/0/a.parquet', content);
      const path = await cache.localPath('master/t/0/a.parquet', etag);
      expect(await readFile(path)).toEqual(content);
      expect(path.startsWith(cacheDir)).toBe(true);
      expect(path.endsWith(`${etag.replaceAll('"', '')}-a.parquet`)).toBe(true);
      expect(lake.gets).toBe(1);
      expect(await temporaryFiles()).toEqual([]);
    });

    it('should download it once when asked for it many times at once', async () => {
      const { etag } = await lake.put('k/shared.parquet', 'shared content');
      const paths = await Promise.all(Array.from({ length: 6 }, () => cache.localPath('k/shared.parquet', etag)));
      expect(new Set(paths).size).toBe(1);
      expect(lake.gets).toBe(1);
      expect((await readFile(paths[0]!)).toString()).toBe('shared content');
    });

    it('should ask the lake for the ETag when none is given', async () => {
      await lake.put('k/no-etag.parquet', 'v1');
      const path = await cache.localPath('k/no-etag.parquet');
      expect(path.endsWith(`${md5Etag('v1').replaceAll('"', '')}-no-etag.parquet`)).toBe(true);
      expect((await readFile(path)).toString()).toBe('v1');
    });
  });

  describe('when the same version is asked for again', () => {
    it('should reuse the copy, in this process and after a reopen', async () => {
      const { etag } = await lake.put('k/reused.parquet', 'reused');
      const first = await cache.localPath('k/reused.parquet', etag);
      expect(await cache.localPath('k/reused.parquet', etag)).toBe(first);
      const reopened = await LakeFileCache.open({ lake, directory: cacheDir });
      expect(await reopened.localPath('k/reused.parquet', etag)).toBe(first);
      expect(lake.gets).toBe(1);
    });
  });

  describe('when the object changes', () => {
    it('should download the new version and evict the old copy', async () => {
      const v1 = await lake.put('k/changing.parquet', 'version one');
      const old = await cache.localPath('k/changing.parquet', v1.etag);
      await cache.localPath('k/other.parquet', (await lake.put('k/other.parquet', 'other')).etag);
      const v2 = await lake.put('k/changing.parquet', 'version two, longer');
      expect(v2.etag).not.toBe(v1.etag);
      const fresh = await cache.localPath('k/changing.parquet', v2.etag);
      expect(fresh).not.toBe(old);
      expect((await readFile(fresh)).toString()).toBe('version two, longer');
      // One copy per key: the new version of this one, and the other key's, untouched.
      const files = await cachedFiles();
      expect(files).toHaveLength(2);
      expect(files.some((file) => fresh.endsWith(file))).toBe(true);
      expect(files.some((file) => old.endsWith(file))).toBe(false);
      expect(lake.gets).toBe(3);
    });
  });

  describe('when a download fails', () => {
    it('should leave no copy and no temporary file, and succeed the next time', async () => {
      const { etag } = await lake.put('k/flaky.parquet', Buffer.alloc(50_000, 7));
      lake.breakBodies = 1;
      await expect(cache.localPath('k/flaky.parquet', etag)).rejects.toThrow('connection dropped');
      expect(lake.gets).toBe(1); // not retriable: tried once
      expect(await cachedFiles()).toEqual([]);
      expect(await temporaryFiles()).toEqual([]);
      const path = await cache.localPath('k/flaky.parquet', etag);
      expect(await readFile(path)).toEqual(Buffer.alloc(50_000, 7));
    });

    it('should download again when a retriable error cuts the body off, up to its attempts', async () => {
      const content = Buffer.alloc(60_000, 3);
      const { etag } = await lake.put('k/cut.parquet', content);
      lake.breakWith = () => new ConnectionError('connection lost mid-body');
      lake.breakBodies = 2;
      const path = await cache.localPath('k/cut.parquet', etag);
      expect(await readFile(path)).toEqual(content);
      expect(lake.gets).toBe(3);
      expect(await temporaryFiles()).toEqual([]);

      const other = await lake.put('k/always-cut.parquet', content);
      lake.breakBodies = 10;
      const gets = lake.gets;
      await expect(cache.localPath('k/always-cut.parquet', other.etag)).rejects.toBeInstanceOf(ConnectionError);
      expect(lake.gets - gets).toBe(3);
      expect((await cachedFiles()).filter((file) => file.endsWith('always-cut.parquet'))).toEqual([]);
    });

    it('should refuse a copy of the wrong size with CorruptDataError', async () => {
      const { etag } = await lake.put('k/short.parquet', 'twelve bytes');
      lake.misreportNextSize = true;
      await expect(cache.localPath('k/short.parquet', etag)).rejects.toBeInstanceOf(CorruptDataError);
      expect(await cachedFiles()).toEqual([]);
      expect(await temporaryFiles()).toEqual([]);
    });

    it('should refuse an object that is not in the lake with ObjectNotFoundError', async () => {
      await expect(cache.localPath('k/missing.parquet')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(cache.localPath('k/missing.parquet', md5Etag('x'))).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await cachedFiles()).toEqual([]);
    });
  });

  describe('when opened over temporary folders of earlier processes', () => {
    it('should remove the abandoned ones and keep the recent ones', async () => {
      const abandoned = join(cacheDir, '.tmp', '1-abandoned');
      const recent = join(cacheDir, '.tmp', '2-recent');
      for (const folder of [abandoned, recent]) {
        await mkdir(folder, { recursive: true });
        await writeFile(join(folder, 'half-written'), 'x');
      }
      const twoHoursAgo = (Date.now() - 2 * 60 * 60_000) / 1000;
      await utimes(abandoned, twoHoursAgo, twoHoursAgo);
      await LakeFileCache.open({ lake, directory: cacheDir });
      const left = await readdir(join(cacheDir, '.tmp'));
      expect(left).toContain('2-recent');
      expect(left).not.toContain('1-abandoned');
    });
  });
});
