/**
 * The Lake port's contract: every promise of `Lake` (keys, bodies, ETags, listing order and pages,
 * deletes), run unchanged against the local lake and S3. One file although long: a contract split over
 * files would let an adapter pass half of it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidObjectKeyError, ObjectNotFoundError, type Lake, type LakeObjectInfo, type ObjectBody } from '@lambda/core';
import { suiteTitle, type ContractFixture, type ContractTarget } from './contract-target.js';
import { describeWhenAvailable } from '@lambda/test-kit';

/** The ETag S3 gives a single-part upload: the MD5 of the content in hex, in double quotes. */
export function md5Etag(content: Buffer | string): string {
  return `"${createHash('md5').update(content).digest('hex')}"`;
}

/** S3's key order: by UTF-8 bytes, which differs from JavaScript's UTF-16 string order. */
export function byUtf8Bytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A stream's whole content, and how many chunks it came in. */
export async function readStream(body: Readable): Promise<{ content: Buffer; chunks: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return { content: Buffer.concat(chunks), chunks: chunks.length };
}

/** An object's info and whole content. */
export async function getObject(lake: Lake, key: string): Promise<{ info: LakeObjectInfo; content: Buffer }> {
  const { info, body } = await lake.get(key);
  return { info, content: (await readStream(body)).content };
}

/** Everything a list yields. */
export async function listAll(lake: Lake, prefix: string, options?: { startAfter?: string; limit?: number }): Promise<LakeObjectInfo[]> {
  const listed: LakeObjectInfo[] = [];
  for await (const info of lake.list(prefix, options)) listed.push(info);
  return listed;
}

/** The parts of an object's info that every reader of the same object must agree on. */
function identity(info: LakeObjectInfo | undefined): { key: string; size: number; etag: string; second: number } | undefined {
  // S3 keeps lastModified to the second, and some of its answers (HEAD's Last-Modified header) drop the milliseconds.
  return info && { key: info.key, size: info.size, etag: info.etag, second: Math.floor(info.lastModified.getTime() / 1000) };
}

/** `length` bytes that differ from one call to the next. */
function someBytes(length: number): Buffer {
  return randomBytes(length);
}

/** A key of exactly `bytes` UTF-8 bytes under `prefix`, mostly two-byte characters, in segments a file system can name. */
function keyOfBytes(prefix: string, bytes: number): string {
  let key = `${prefix}/`;
  while (bytes - Buffer.byteLength(key) > 130) key += `${'é'.repeat(60)}/`;
  return key + 'x'.repeat(bytes - Buffer.byteLength(key));
}

export function describeLakeContract(target: ContractTarget<Lake>): void {
  describeWhenAvailable(suiteTitle('Lake', target), target.skipReason, () => {
    let fixture: ContractFixture<Lake>;
    let lake: Lake;
    let prefix: string;
    /** A key under this test's own prefix, so tests sharing a bucket never see each other's objects. */
    const key = (name: string): string => `${prefix}/${name}`;

    beforeEach(async () => {
      fixture = await target.prepare();
      lake = await fixture.open();
      prefix = `lake-contract-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await lake.close();
      await fixture.cleanUp();
    });

    describe('when putting and getting objects', () => {
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      const text = 'naïve café ☕ 😀 \u0000 end';
      // A view into the middle of a larger buffer: only the viewed bytes are the object.
      const surrounding = Buffer.concat([Buffer.from('NOT-THIS'), binary, Buffer.from('NOR-THIS')]);

      it.each<[string, () => ObjectBody, Buffer]>([
        ['a Buffer', () => Buffer.from(binary), binary],
        ['a Uint8Array viewing part of a larger buffer', () => new Uint8Array(surrounding.buffer, surrounding.byteOffset + 8, 256), binary],
        ['a string with multi-byte characters', () => text, Buffer.from(text, 'utf8')],
        ['a Readable stream', () => Readable.from([binary.subarray(0, 100), binary.subarray(100)], { objectMode: false }), binary],
        [
          'an async generator of chunks',
          () =>
            (async function* () {
              yield new Uint8Array(binary.subarray(0, 7));
              yield new Uint8Array(0);
              yield new Uint8Array(binary.subarray(7));
            })(),
          binary,
        ],
      ])('should round-trip %s', async (_label, makeBody, expected) => {
        const put = await lake.put(key('object.bin'), makeBody());
        expect(put).toMatchObject({ etag: md5Etag(expected), size: expected.length });
        const { info, content } = await getObject(lake, key('object.bin'));
        expect(content.equals(expected)).toBe(true);
        expect(info).toMatchObject({ key: key('object.bin'), size: expected.length, etag: md5Etag(expected) });
      });

      it('should stream a body of a few megabytes written in chunks', async () => {
        const expected = someBytes(3 * 1024 * 1024 + 12_345);
        const chunkBytes = 64 * 1024;
        async function* chunks(): AsyncIterable<Uint8Array> {
          for (let start = 0; start < expected.length; start += chunkBytes) yield expected.subarray(start, start + chunkBytes);
        }
        const put = await lake.put(key('big/blob.bin'), chunks());
        expect(put.size).toBe(expected.length);
        const { info, body } = await lake.get(key('big/blob.bin'));
        expect(info.size).toBe(expected.length);
        expect(info.etag).toBe(put.etag);
        const read = await readStream(body);
        expect(read.content.length).toBe(expected.length);
        expect(read.content.equals(expected)).toBe(true);
        // Streamed, not handed over as one buffer.
        expect(read.chunks).toBeGreaterThan(1);
      });

      it('should store empty objects', async () => {
        const bodies: Array<[string, ObjectBody]> = [
          ['empty-string', ''],
          ['empty-buffer', Buffer.alloc(0)],
          ['empty-generator', (async function* () {})()],
        ];
        for (const [name, body] of bodies) {
          expect(await lake.put(key(name), body)).toMatchObject({ etag: md5Etag(''), size: 0 });
          const { info, content } = await getObject(lake, key(name));
          expect(content.length).toBe(0);
          expect(info).toMatchObject({ size: 0, etag: md5Etag('') });
          expect(await lake.head(key(name))).toMatchObject({ size: 0, etag: md5Etag('') });
        }
        expect((await listAll(lake, `${prefix}/`)).map((i) => [i.key, i.size])).toEqual(
          bodies.map(([name]) => [key(name), 0]).sort((a, b) => byUtf8Bytes(a[0] as string, b[0] as string)),
        );
      });
    });

    describe('when computing ETags', () => {
      it('should give the quoted MD5 hex of the content', async () => {
        for (const [name, content] of [
          ['one', 'hello, lake'],
          ['two', someBytes(10_000)],
          ['three', 'é😀'],
        ] as const) {
          const { etag } = await lake.put(key(name), content);
          expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
          expect(etag).toBe(md5Etag(content));
          expect((await lake.head(key(name)))!.etag).toBe(md5Etag(content));
        }
      });

      it('should give equal content equal ETags and different content different ETags', async () => {
        const content = someBytes(5000);
        const changed = Buffer.from(content);
        changed[2500] = (changed[2500]! + 1) % 256;
        const a = await lake.put(key('a'), content);
        const b = await lake.put(key('b'), Readable.from([content.subarray(0, 1000), content.subarray(1000)], { objectMode: false }));
        const c = await lake.put(key('c'), changed);
        expect(b.etag).toBe(a.etag);
        expect(c.etag).not.toBe(a.etag);
        expect((await lake.head(key('b')))!.etag).toBe((await lake.head(key('a')))!.etag);
        expect((await lake.head(key('c')))!.etag).not.toBe((await lake.head(key('a')))!.etag);
      });

      it('should report the same etag and size from put, head, get and list', async () => {
        const content = 'the same object, seen four ways';
        const before = Date.now();
        const put = await lake.put(key('seen'), content);
        expect(put).toMatchObject({ etag: md5Etag(content), size: Buffer.byteLength(content) });
        const head = await lake.head(key('seen'));
        const { info: got } = await getObject(lake, key('seen'));
        const [listed, ...more] = await listAll(lake, key('seen'));
        expect(more).toEqual([]);
        expect(head).toMatchObject({ key: key('seen'), etag: put.etag, size: put.size });
        expect(identity(got)).toEqual(identity(head));
        expect(identity(listed)).toEqual(identity(head));
        // A real time (S3's clock may differ a little from ours, and it keeps seconds only).
        expect(head!.lastModified).toBeInstanceOf(Date);
        expect(Math.abs(head!.lastModified.getTime() - before)).toBeLessThan(5 * 60_000);
      });
    });

    describe('when an object is missing', () => {
      it('should head it as undefined and refuse to get it, naming the key', async () => {
        expect(await lake.head(key('never-put'))).toBeUndefined();
        const error = await lake.get(key('never-put')).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ObjectNotFoundError);
        expect((error as Error).message).toContain(key('never-put'));
      });

      it('should see no object at a key below an object, nor at a key that only begins others', async () => {
        await lake.put(key('file'), 'a file');
        await lake.put(key('folder/inside'), 'inside');
        for (const missing of [key('file/child'), key('folder'), key('fold')]) {
          expect(await lake.head(missing)).toBeUndefined();
          const error = await lake.get(missing).catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(ObjectNotFoundError);
          expect((error as Error).message).toContain(missing);
        }
      });
    });

    describe('when overwriting', () => {
      it('should replace the content whole', async () => {
        const long = 'long content '.repeat(1000);
        await lake.put(key('doc'), long);
        const put = await lake.put(key('doc'), 'short');
        expect(put).toMatchObject({ etag: md5Etag('short'), size: 5 });
        const { info, content } = await getObject(lake, key('doc'));
        expect(content.toString()).toBe('short');
        expect(info).toMatchObject({ size: 5, etag: md5Etag('short') });
        expect((await listAll(lake, `${prefix}/`)).map((i) => [i.key, i.etag])).toEqual([[key('doc'), md5Etag('short')]]);
      });

      it('should let a reader that opened before the overwrite read the old content whole', async () => {
        const old = someBytes(1024 * 1024);
        const replacement = someBytes(1024 * 1024 + 17);
        await lake.put(key('shared'), old);
        const reader = await lake.get(key('shared'));
        await lake.put(key('shared'), replacement);
        const read = await readStream(reader.body);
        expect(read.content.length).toBe(old.length);
        expect(read.content.equals(old)).toBe(true);
        expect(reader.info).toMatchObject({ size: old.length, etag: md5Etag(old) });
        const now = await getObject(lake, key('shared'));
        expect(now.content.equals(replacement)).toBe(true);
        expect(now.info.etag).toBe(md5Etag(replacement));
      });

      it('should keep one whole version, with its own ETag, after concurrent puts', async () => {
        for (let round = 0; round < 10; round++) {
          const versions = Array.from({ length: 8 }, (_, i) => Buffer.from(`round ${round} version ${i} `.repeat(1 + i * 300)));
          const puts = await Promise.all(versions.map((version) => lake.put(key('contended'), version)));
          puts.forEach((put, i) => expect(put).toMatchObject({ etag: md5Etag(versions[i]!), size: versions[i]!.length }));
          const { info, content } = await getObject(lake, key('contended'));
          expect(versions.some((version) => version.equals(content))).toBe(true);
          expect(info).toMatchObject({ size: content.length, etag: md5Etag(content) });
          expect(await lake.head(key('contended'))).toMatchObject({ size: content.length, etag: md5Etag(content) });
        }
      });
    });

    describe('when listing', () => {
      async function putAll(names: string[]): Promise<string[]> {
        for (const name of names) await lake.put(key(name), `content of ${name}`);
        return names.map(key);
      }

      it('should list only the keys that start with the prefix, as a string, not a directory', async () => {
        const keys = await putAll(['a1', 'a/b', 'a/b2/c', 'a-c', 'ab', 'b', 'A', 'ba']);
        const expected = (p: string) => keys.filter((k) => k.startsWith(p)).sort(byUtf8Bytes);
        for (const p of [key('a'), key('a/'), key('a/b'), key('b'), `${prefix}/`]) {
          const listed = await listAll(lake, p);
          expect(listed.map((i) => i.key)).toEqual(expected(p));
          expect(listed.length).toBeGreaterThan(0);
        }
        expect((await listAll(lake, key('a'))).map((i) => i.key)).toEqual(
          expect.arrayContaining([key('a1'), key('a/b'), key('a/b2/c'), key('a-c'), key('ab')]),
        );
        expect((await listAll(lake, key('a'))).map((i) => i.key)).not.toContain(key('A'));
        for (const info of await listAll(lake, `${prefix}/`)) {
          const name = info.key.slice(prefix.length + 1);
          expect(info).toMatchObject({ size: Buffer.byteLength(`content of ${name}`), etag: md5Etag(`content of ${name}`) });
        }
      });

      it('should list in ascending order of UTF-8 bytes', async () => {
        // U+FF61 sorts after the emoji in UTF-16 but before it in UTF-8; 'é' sorts after every ASCII key.
        const names = ['z', 'é', '😀', '\uff61', 'a-b', 'a/b', 'ab', 'Z', '0', '~', 'e', 'ée', 'ë/x'];
        const keys = await putAll(names);
        const expected = [...keys].sort(byUtf8Bytes);
        expect(expected).not.toEqual([...keys].sort()); // the test tells UTF-8 order from UTF-16 order
        expect((await listAll(lake, `${prefix}/`)).map((i) => i.key)).toEqual(expected);
      });

      it('should page through many objects with startAfter and limit, each exactly once', async () => {
        const keys = await putAll(Array.from({ length: 25 }, (_, i) => `item-${i}${i % 4 === 0 ? 'é' : ''}`));
        const expected = [...keys].sort(byUtf8Bytes);
        const pages: string[][] = [];
        let startAfter: string | undefined;
        for (;;) {
          const page = (await listAll(lake, `${prefix}/`, { limit: 10, ...(startAfter === undefined ? {} : { startAfter }) })).map((i) => i.key);
          if (page.length === 0) break;
          pages.push(page);
          startAfter = page[page.length - 1];
          expect(pages.length).toBeLessThanOrEqual(3);
        }
        expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
        expect(pages.flat()).toEqual(expected);
      });

      it('should start after a key that is not an object itself', async () => {
        const keys = await putAll(['m1', 'm2', 'm3', 'n1', 'n2']);
        for (const startAfter of [key('m2'), key('m2a'), key('m'), key('n'), key('n3')]) {
          const expected = keys.filter((k) => byUtf8Bytes(k, startAfter) > 0).sort(byUtf8Bytes);
          expect((await listAll(lake, `${prefix}/`, { startAfter })).map((i) => i.key)).toEqual(expected);
        }
        expect((await listAll(lake, key('n'), { startAfter: key('a') })).map((i) => i.key)).toEqual([key('n1'), key('n2')]);
        expect((await listAll(lake, `${prefix}/`, { startAfter: key('m1'), limit: 2 })).map((i) => i.key)).toEqual([key('m2'), key('m3')]);
      });

      it("should list the test's objects under the empty prefix", async () => {
        const keys = (await putAll(['one', 'two/deep', 'three'])).sort(byUtf8Bytes);
        // Other objects may share the store: this test's keys are the ones right after its prefix.
        const listed = await listAll(lake, '', { startAfter: prefix, limit: keys.length });
        expect(listed.map((i) => i.key)).toEqual(keys);
        expect(listed.map((i) => i.etag)).toEqual(keys.map((k) => md5Etag(`content of ${k.slice(prefix.length + 1)}`)));
      });

      it('should yield nothing for a prefix without objects', async () => {
        await putAll(['a/one', 'a/two']);
        expect(await listAll(lake, key('b'))).toEqual([]);
        expect(await listAll(lake, key('a/one/'))).toEqual([]);
        expect(await listAll(lake, key('a/three'))).toEqual([]);
        expect(await listAll(lake, `lake-contract-never-${randomUUID()}/`)).toEqual([]);
        expect(await listAll(lake, key('a/'), { startAfter: key('a/two') })).toEqual([]);
        expect(await listAll(lake, key('a/'), { limit: 0 })).toEqual([]);
      });
    });

    describe('when deleting', () => {
      it('should remove the object', async () => {
        await lake.put(key('gone'), 'soon gone');
        await lake.delete(key('gone'));
        expect(await lake.head(key('gone'))).toBeUndefined();
        await expect(lake.get(key('gone'))).rejects.toBeInstanceOf(ObjectNotFoundError);
        expect(await listAll(lake, `${prefix}/`)).toEqual([]);
        // And the key can be used again.
        expect(await lake.put(key('gone'), 'back')).toMatchObject({ etag: md5Etag('back'), size: 4 });
        expect((await getObject(lake, key('gone'))).content.toString()).toBe('back');
      });

      it('should succeed for an absent key', async () => {
        await lake.put(key('file'), 'a file');
        await lake.put(key('folder/inside'), 'inside');
        await lake.delete(key('never-put'));
        await lake.delete(key('file/child'));
        await lake.delete(key('folder'));
        await lake.put(key('twice'), 'x');
        await lake.delete(key('twice'));
        await lake.delete(key('twice'));
        expect((await listAll(lake, `${prefix}/`)).map((i) => [i.key, i.etag])).toEqual([
          [key('file'), md5Etag('a file')],
          [key('folder/inside'), md5Etag('inside')],
        ]);
      });

      it('should leave the neighbours of the deleted object alone', async () => {
        const names = ['n/a', 'n/a-', 'n/ab', 'n/sub/a', 'n/b', 'm'];
        for (const name of names) await lake.put(key(name), `content of ${name}`);
        await lake.delete(key('n/a'));
        const left = names.filter((name) => name !== 'n/a').map(key).sort(byUtf8Bytes);
        const listed = await listAll(lake, `${prefix}/`);
        expect(listed.map((i) => i.key)).toEqual(left);
        for (const info of listed) expect(info.etag).toBe(md5Etag(`content of ${info.key.slice(prefix.length + 1)}`));
        expect((await getObject(lake, key('n/sub/a'))).content.toString()).toBe('content of n/sub/a');
      });
    });

    describe('when a key is invalid', () => {
      it.each<[string, (p: string) => string]>([
        ['an empty key', () => ''],
        ['a leading slash', (p) => `/${p}/leading`],
        ['a trailing slash', (p) => `${p}/trailing/`],
        ['an empty segment', (p) => `${p}/a//b`],
        ["a '..' segment", (p) => `${p}/a/../b`],
        ["a '.' segment", (p) => `./${p}/a`],
        ['a backslash', (p) => `${p}/a\\b`],
        ['more than 1024 bytes', (p) => `${p}/${'x'.repeat(1100)}`],
        ['a control character', (p) => `${p}/bell\u0007`],
        ['a NUL character', (p) => `${p}/nul\u0000`],
      ])('should refuse %s in put, get, head and delete', async (_label, makeKey) => {
        await lake.put(key('existing'), 'kept');
        const bad = makeKey(prefix);
        const attempts: Array<() => Promise<unknown>> = [
          () => lake.put(bad, 'content'),
          () => lake.put(bad, Readable.from([Buffer.from('streamed')], { objectMode: false })),
          () => lake.get(bad),
          () => lake.head(bad),
          () => lake.delete(bad),
        ];
        for (const attempt of attempts) {
          const error = await attempt().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(InvalidObjectKeyError);
          expect((error as Error).message).toContain(JSON.stringify(bad));
        }
        expect((await listAll(lake, `${prefix}/`)).map((i) => i.key)).toEqual([key('existing')]);
        expect((await listAll(lake, '', { startAfter: prefix, limit: 1 })).map((i) => i.key)).toEqual([key('existing')]);
      });

      it('should accept a key of exactly 1024 UTF-8 bytes and refuse one of 1025', async () => {
        const longest = keyOfBytes(prefix, 1024);
        const tooLong = keyOfBytes(prefix, 1025);
        expect(Buffer.byteLength(longest)).toBe(1024);
        expect(Buffer.byteLength(tooLong)).toBe(1025);
        expect(tooLong.length).toBeLessThan(1024); // bytes count, not characters
        expect(await lake.put(longest, 'at the limit')).toMatchObject({ etag: md5Etag('at the limit'), size: 12 });
        expect((await getObject(lake, longest)).content.toString()).toBe('at the limit');
        await expect(lake.put(tooLong, 'past the limit')).rejects.toBeInstanceOf(InvalidObjectKeyError);
        expect((await listAll(lake, `${prefix}/`)).map((i) => i.key)).toEqual([longest]);
      });
    });

    describe('when reopened', () => {
      it('should still hold every object with the same content and ETag', async () => {
        const contents = new Map<string, Buffer>([
          [key('plain.txt'), Buffer.from('plain')],
          [key('nested/deeper/data.parquet'), someBytes(200_000)],
          [key('naïve/😀'), Buffer.from('unicode key')],
          [key('empty'), Buffer.alloc(0)],
        ]);
        for (const [k, content] of contents) await lake.put(k, content);
        await lake.put(key('overwritten'), 'first');
        await lake.put(key('overwritten'), 'second');
        contents.set(key('overwritten'), Buffer.from('second'));
        await lake.put(key('deleted'), 'gone');
        await lake.delete(key('deleted'));
        const before = await listAll(lake, `${prefix}/`);
        await lake.close();
        lake = await fixture.open();
        const after = await listAll(lake, `${prefix}/`);
        expect(after.map(identity)).toEqual(before.map(identity));
        expect(after.map((i) => i.key)).toEqual([...contents.keys()].sort(byUtf8Bytes));
        for (const [k, content] of contents) {
          const { info, content: read } = await getObject(lake, k);
          expect(read.equals(content)).toBe(true);
          expect(info).toMatchObject({ size: content.length, etag: md5Etag(content) });
        }
        expect(await lake.head(key('deleted'))).toBeUndefined();
      });
    });
  });
}
