import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, ConflictError, InvalidObjectKeyError, LocalLake, ObjectNotFoundError } from '@lambda/core';
import { byUtf8Bytes, getObject, listAll, md5Etag } from '../src/lake-contract.js';
import { makeTempDir, snapshotTree } from '@lambda/test-kit';

/** The path of every file under `directory`, at any depth (none if it is missing). */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('LocalLake on disk', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  /** The lake's folder, one level below the temp dir, so a key escaping the lake would still land in a snapshot. */
  let root: string;
  let lake: LocalLake;
  const tmp = () => join(root, '.lake', 'tmp');
  const etags = () => join(root, '.lake', 'etags');
  const open = () => LocalLake.open({ directory: root });

  beforeEach(async () => {
    dir = await makeTempDir('lake-disk');
    root = join(dir.path, 'lake');
    lake = await open();
  });
  afterEach(async () => {
    await lake.close();
    await dir.remove();
  });

  /** The ETag, size and content that head, get and list each report for `key`. */
  async function expectObject(key: string, content: Buffer | string): Promise<void> {
    const expected = { key, size: Buffer.byteLength(content), etag: md5Etag(content) };
    expect(await lake.head(key)).toMatchObject(expected);
    const got = await getObject(lake, key);
    expect(got.info).toMatchObject(expected);
    expect(got.content.equals(Buffer.from(content))).toBe(true);
    expect((await listAll(lake, key)).find((info) => info.key === key)).toMatchObject(expected);
  }

  describe('when laying out objects', () => {
    it('should create its folder and store object a/b/c.parquet as the file a/b/c.parquet', async () => {
      expect(existsSync(root)).toBe(true);
      const content = Buffer.from('PAR1 not really parquet PAR1');
      await lake.put('a/b/c.parquet', content);
      expect(await readFile(join(root, 'a', 'b', 'c.parquet'))).toEqual(content);
      expect((await readdir(root)).sort()).toEqual(['.lake', 'a']);
    });

    it('should see a file written into the folder directly as an object', async () => {
      await mkdir(join(root, 'x'), { recursive: true });
      await writeFile(join(root, 'x', 'y.csv'), 'id,name\n1,ada\n');
      expect((await listAll(lake, '')).map((info) => info.key)).toEqual(['x/y.csv']);
      await expectObject('x/y.csv', 'id,name\n1,ada\n');
    });

    it('should keep keys apart whose names begin alike, or use a whole file name', async () => {
      const keys = ['a', 'a.json/b', 'c.json/d', 'c', 'e.json', 'e', 'x'.repeat(255), `dir/${'é'.repeat(127)}`];
      for (const key of keys) await lake.put(key, `content of ${key}`);
      for (const key of keys) await expectObject(key, `content of ${key}`);
      expect((await listAll(lake, '')).map((info) => info.key)).toEqual([...keys].sort(byUtf8Bytes));
    });

    it("should refuse keys in the adapter's reserved '.lake' namespace", async () => {
      for (const key of ['.lake/tmp/x', '.lake', 'a/.lake/b', '.lakefile']) {
        await expect(lake.put(key, 'x')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      }
      expect(await filesUnder(tmp())).toEqual([]);
    });
  });

  describe('when a put is interrupted', () => {
    it('should leave no temporary file behind', async () => {
      await lake.put('one', 'first');
      await lake.put('two/deep', Readable.from([Buffer.from('second')], { objectMode: false }));
      await lake.put('one', 'overwritten');
      await expect(lake.put('one/under', 'conflict')).rejects.toBeInstanceOf(ConflictError);
      expect(await readdir(tmp())).toEqual([]);
    });

    it('should remove the temporary files of a process that died, on open', async () => {
      await lake.put('kept', 'kept content');
      await lake.close();
      await writeFile(join(tmp(), 'half-written-put'), Buffer.alloc(4096, 1));
      await mkdir(join(tmp(), 'odd-dir'));
      await writeFile(join(tmp(), 'odd-dir', 'nested'), 'x');
      lake = await open();
      expect(await readdir(tmp())).toEqual([]);
      expect((await listAll(lake, '')).map((info) => info.key)).toEqual(['kept']);
      await expectObject('kept', 'kept content');
    });

    it.each<[string, () => AsyncIterable<Uint8Array> | Readable]>([
      [
        'an async generator that throws midway',
        () =>
          (async function* () {
            yield Buffer.alloc(100_000, 7);
            yield Buffer.alloc(100_000, 8);
            throw new Error('body broke');
          })(),
      ],
      [
        'a stream that fails midway',
        () => {
          let pushed = 0;
          return new Readable({
            read() {
              if (pushed++ < 3) this.push(Buffer.alloc(50_000, 9));
              else this.destroy(new Error('body broke'));
            },
          });
        },
      ],
    ])('should keep the previous object and add none when %s', async (_label, failingBody) => {
      await lake.put('data/existing.bin', 'previous content');
      const before = await snapshotTree(dir.path);
      await expect(lake.put('data/existing.bin', failingBody())).rejects.toThrow('body broke');
      await expect(lake.put('fresh/deep/new.bin', failingBody())).rejects.toThrow('body broke');
      expect(await snapshotTree(dir.path)).toEqual(before);
      expect(existsSync(join(root, 'fresh'))).toBe(false);
      await expectObject('data/existing.bin', 'previous content');
      expect(await lake.head('fresh/deep/new.bin')).toBeUndefined();
      expect((await listAll(lake, '')).map((info) => info.key)).toEqual(['data/existing.bin']);
    });
  });

  describe('when the ETag cache is damaged', () => {
    const readers: Array<[string, (key: string) => Promise<string | undefined>]> = [
      ['head', async (key) => (await lake.head(key))?.etag],
      ['get', async (key) => (await getObject(lake, key)).info.etag],
      ['list', async (key) => (await listAll(lake, key)).find((info) => info.key === key)?.etag],
    ];
    const objects = (): Map<string, string> =>
      new Map([
        ['one.txt', 'one'],
        ['dir/two.txt', 'two, longer'],
        ['dir/sub/three', 'three'],
      ]);
    const damageEveryEntry = async (write: string | Buffer): Promise<void> => {
      const files = await filesUnder(etags());
      expect(files.length).toBeGreaterThan(0);
      await Promise.all(files.map((file) => writeFile(file, write)));
    };

    it.each<[string, (contents: Map<string, string>) => Promise<void>]>([
      ['deleted', async () => rm(etags(), { recursive: true, force: true })],
      ['emptied of files', async () => void (await Promise.all((await filesUnder(etags())).map((file) => rm(file))))],
      ['corrupted', () => damageEveryEntry('{"etag": "garb')],
      ['overwritten with zeros', () => damageEveryEntry(Buffer.alloc(64))],
      [
        'stale, from before the objects were rewritten with the same sizes',
        async (contents) => {
          await cp(etags(), join(dir.path, 'old-etags'), { recursive: true });
          for (const [key, content] of contents) {
            contents.set(key, content.toUpperCase());
            await lake.put(key, content.toUpperCase());
          }
          await rm(etags(), { recursive: true, force: true });
          await cp(join(dir.path, 'old-etags'), etags(), { recursive: true });
        },
      ],
    ])('should recompute ETags when the cache is %s', async (_label, damage) => {
      const contents = objects();
      for (const [key, content] of contents) await lake.put(key, content);
      await damage(contents);
      for (const [name, read] of readers) {
        for (const [key, content] of contents) expect([name, key, await read(key)]).toEqual([name, key, md5Etag(content)]);
      }
      // And the recomputed ETags are still right after a reopen.
      await lake.close();
      lake = await open();
      for (const [key, content] of contents) await expectObject(key, content);
    });

    it('should recompute through each reader on its own, on a freshly damaged cache', async () => {
      const contents = objects();
      for (const [key, content] of contents) await lake.put(key, content);
      for (const [name, read] of readers) {
        await damageEveryEntry('not json');
        for (const [key, content] of contents) expect([name, key, await read(key)]).toEqual([name, key, md5Etag(content)]);
      }
    });
  });

  describe("when a file is replaced behind the lake's back", () => {
    // Each replacement changes one thing the cache checks, and keeps the others: the same modification
    // time `at` (a whole second, which every file system can store exactly), the same size, or the same inode.
    it.each<[string, (path: string, at: number) => Promise<string>]>([
      [
        'rewritten in place with another size and the same modification time',
        async (path, at) => {
          await writeFile(path, 'a longer replacement');
          await utimes(path, at, at);
          return 'a longer replacement';
        },
      ],
      [
        'replaced by a file of the same size and modification time, renamed over it',
        async (path, at) => {
          const other = join(dir.path, 'replacement');
          await writeFile(other, 'ORIGINAL');
          await utimes(other, at, at);
          await rename(other, path);
          return 'ORIGINAL';
        },
      ],
      [
        'rewritten in place with the same size, later',
        async (path, at) => {
          await writeFile(path, 'Original');
          await utimes(path, at + 5, at + 5);
          return 'Original';
        },
      ],
    ])('should give a new ETag when the file is %s', async (_label, replace) => {
      const path = join(root, 'behind', 'back.txt');
      const put = await lake.put('behind/back.txt', 'original');
      expect(put.etag).toBe(md5Etag('original'));
      const at = Math.floor(Date.now() / 1000) - 60;
      await utimes(path, at, at);
      expect((await lake.head('behind/back.txt'))!.etag).toBe(put.etag); // cached for this inode, size and time
      const { ino, size } = await stat(path);
      const replacement = await replace(path, at);
      const after = await stat(path);
      // The replacement differs from the original in exactly one of the three.
      expect([after.ino !== ino, after.size !== size, after.mtimeMs !== at * 1000].filter(Boolean)).toHaveLength(1);
      await expectObject('behind/back.txt', replacement);
      expect(md5Etag(replacement)).not.toBe(put.etag);
    });
  });

  describe('when deleting', () => {
    it('should prune the parent directories it empties, and its ETag cache entry', async () => {
      await lake.put('a/b/c/d.txt', 'deep');
      await lake.put('a/e.txt', 'shallow');
      await lake.delete('a/b/c/d.txt');
      expect(existsSync(join(root, 'a', 'b'))).toBe(false);
      expect(await readdir(join(root, 'a'))).toEqual(['e.txt']);
      await lake.delete('a/e.txt');
      expect(existsSync(join(root, 'a'))).toBe(false);
      expect((await readdir(root)).sort()).toEqual(['.lake']);
      expect(await filesUnder(etags())).toEqual([]);
      expect(await listAll(lake, '')).toEqual([]);
    });

    it('should leave a directory of other objects alone when deleting its name', async () => {
      await lake.put('x/y', 'inside');
      const before = await snapshotTree(dir.path);
      await lake.delete('x');
      await lake.delete('x/y/z');
      expect(await snapshotTree(dir.path)).toEqual(before);
      await expectObject('x/y', 'inside');
    });
  });

  describe('when keys collide with files and directories', () => {
    it.each([
      ['an object whose name is a directory of objects', 'x/y', 'x'],
      ['an object whose name is a directory of deeper objects', 'p/q/r', 'p/q'],
      ['an object below an existing object', 'm', 'm/n'],
      ['an object further below an existing object', 'm', 'm/n/o'],
    ])('should refuse %s with ConflictError and change nothing', async (_label, first, second) => {
      await lake.put(first, 'first');
      const before = await snapshotTree(dir.path);
      const error = await lake.put(second, 'second').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as Error).message).toContain(JSON.stringify(second));
      expect(await snapshotTree(dir.path)).toEqual(before);
      expect(await lake.head(second)).toBeUndefined();
      await expect(lake.get(second)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expectObject(first, 'first');
      expect((await listAll(lake, '')).map((info) => info.key)).toEqual([first]);
    });
  });

  describe('when a key is invalid', () => {
    it('should change nothing on disk', async () => {
      await lake.put('a/b', 'kept');
      await lake.put('top', 'kept too');
      const before = await snapshotTree(dir.path);
      const keys = [
        '',
        '/absolute',
        '../escape',
        'a/../../escape',
        '..',
        '.',
        'a\\..\\..\\escape',
        '.lake/tmp/x',
        '.lake/etags/y',
        'a//b',
        'a/',
        './top',
        'nul\u0000byte',
        'x'.repeat(1100),
        7 as unknown as string,
      ];
      for (const key of keys) {
        const attempts: Array<() => Promise<unknown>> = [
          () => lake.put(key, 'bad'),
          () => lake.get(key),
          () => lake.head(key),
          () => lake.delete(key),
        ];
        for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(InvalidObjectKeyError);
      }
      for (const prefix of ['../', '.lake/', 'a//', '/']) {
        await expect(listAll(lake, prefix)).rejects.toBeInstanceOf(InvalidObjectKeyError);
      }
      expect(await snapshotTree(dir.path)).toEqual(before);
    });
  });

  describe('when closed', () => {
    it('should refuse every operation', async () => {
      await lake.put('k', 'v');
      await lake.close();
      const attempts: Array<() => Promise<unknown>> = [
        () => lake.put('k', 'w'),
        () => lake.get('k'),
        () => lake.head('k'),
        () => lake.delete('k'),
        () => listAll(lake, ''),
      ];
      for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(ClosedError);
      lake = await open();
      expect((await getObject(lake, 'k')).content.toString()).toBe('v');
    });
  });
});
