/**
 * The S3 lake against s3rver, a real S3 HTTP API on a free port: the lake contract (a fresh bucket per
 * test), then what only S3 has: a key prefix inside the bucket, uploads in parts, listing over many pages,
 * and retries through a proxy that fails, or stalls, the requests it is told to.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConnectionError,
  InvalidArgumentError,
  NotFoundError,
  ObjectNotFoundError,
  PlatformError,
  TimeoutError,
  loadConfig,
  silentLogger,
} from '@lambda/core';
import { S3Lake, type S3LakeOptions } from '../src/index.js';
import { openLake } from '../src/open-lake.js';
import { byUtf8Bytes, describeLakeContract, getObject, listAll, md5Etag, readStream } from '@lambda/port-contracts';
import { startFaultProxy, type FaultProxy, startS3Server, type S3TestServer } from '@lambda/test-kit';

let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3.close();
});

/** Options reaching `s3` (or a proxy in front of it) for `bucket`. */
function lakeOptions(overrides: Partial<S3LakeOptions> = {}): S3LakeOptions {
  return { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: s3.region, credentials: s3.credentials, ...overrides };
}

describeLakeContract({
  name: 'the S3 lake on s3rver',
  async prepare() {
    const bucket = await s3.createBucket();
    return { open: () => S3Lake.open(lakeOptions({ bucket })), cleanUp: async () => undefined };
  },
});

describe('S3Lake on s3rver', () => {
  let lake: S3Lake;
  let bucket: string;

  beforeEach(async () => {
    bucket = await s3.createBucket();
  });

  afterEach(async () => {
    await lake?.close();
  });

  describe('when given a key prefix', () => {
    it('should keep its objects under the prefix, and see only those', async () => {
      const outside = await S3Lake.open(lakeOptions({ bucket }));
      try {
        await outside.put('a/outside', 'not in the prefixed lake');
        await outside.put('platform-b/a/other', 'another prefix');
        lake = await S3Lake.open(lakeOptions({ bucket, prefix: '/platform-a/' }));
        await lake.put('a/one', 'first');
        await lake.put('a/two', 'second');
        expect((await listAll(lake, '')).map((info) => info.key)).toEqual(['a/one', 'a/two']);
        expect((await listAll(lake, 'a/', { startAfter: 'a/one' })).map((info) => info.key)).toEqual(['a/two']);
        expect(await lake.head('a/outside')).toBeUndefined();
        // Seen from the bucket's root, the objects are under the prefix.
        expect((await listAll(outside, '')).map((info) => info.key)).toEqual(
          ['a/outside', 'platform-a/a/one', 'platform-a/a/two', 'platform-b/a/other'].sort(byUtf8Bytes),
        );
        expect((await getObject(outside, 'platform-a/a/one')).content.toString()).toBe('first');
        await lake.delete('a/one');
        expect(await outside.head('platform-a/a/one')).toBeUndefined();
        expect(lake.location).toBe(`s3://${bucket}/platform-a/`);
      } finally {
        await outside.close();
      }
    });
  });

  describe('when a body is larger than the multipart threshold', () => {
    it.each<[string, (content: Buffer) => Buffer | Readable]>([
      ['a Buffer', (content) => content],
      ['a stream', (content) => Readable.from([content.subarray(0, 1_000_000), content.subarray(1_000_000)], { objectMode: false })],
    ])('should upload %s in parts and read back the same bytes', async (_label, makeBody) => {
      const proxy = await startFaultProxy(s3.endpoint);
      try {
        const threshold = 5 * 1024 * 1024;
        const content = randomBytes(2 * threshold + 123_457);
        lake = await S3Lake.open(lakeOptions({ bucket, endpoint: proxy.endpoint, multipartThresholdBytes: threshold }));
        const put = await lake.put('big/object.bin', makeBody(content));
        expect(put.size).toBe(content.length);
        const parts = proxy.requests.filter((request) => request.method === 'PUT' && /[?&]partNumber=\d+/.test(request.url));
        expect(parts).toHaveLength(Math.ceil(content.length / threshold));
        expect(proxy.requests.some((request) => request.method === 'POST' && /[?&]uploads\b/.test(request.url))).toBe(true);
        const { info, content: read } = await getObject(lake, 'big/object.bin');
        expect(read.equals(content)).toBe(true);
        expect(info).toMatchObject({ size: content.length, etag: put.etag });
        expect((await lake.head('big/object.bin'))?.etag).toBe(put.etag);
      } finally {
        await proxy.close();
      }
    });

    it('should send a body at the threshold in one request', async () => {
      const proxy = await startFaultProxy(s3.endpoint);
      try {
        const threshold = 5 * 1024 * 1024;
        const content = randomBytes(threshold);
        lake = await S3Lake.open(lakeOptions({ bucket, endpoint: proxy.endpoint, multipartThresholdBytes: threshold }));
        proxy.resetCount();
        expect(await lake.put('exact.bin', content)).toEqual({ etag: md5Etag(content), size: content.length });
        expect(proxy.requests.map((request) => request.method)).toEqual(['PUT']);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('when listing more objects than one page holds', () => {
    it('should page through them in key order, each once, asking one page at a time', async () => {
      const proxy = await startFaultProxy(s3.endpoint);
      try {
        lake = await S3Lake.open(lakeOptions({ bucket, endpoint: proxy.endpoint, listPageSize: 4 }));
        const keys = Array.from({ length: 11 }, (_, i) => `many/${i % 3 === 0 ? 'é' : ''}item-${i}`);
        for (const key of keys) await lake.put(key, `content of ${key}`);
        proxy.resetCount();
        const listed = await listAll(lake, 'many/');
        expect(listed.map((info) => info.key)).toEqual([...keys].sort(byUtf8Bytes));
        expect(listed.map((info) => info.etag)).toEqual([...keys].sort(byUtf8Bytes).map((key) => md5Etag(`content of ${key}`)));
        expect(proxy.requests.filter((request) => request.method === 'GET')).toHaveLength(Math.ceil(keys.length / 4));
        // A limit asks for no more than it needs.
        proxy.resetCount();
        const limited = await listAll(lake, 'many/', { limit: 6, startAfter: [...keys].sort(byUtf8Bytes)[2] });
        expect(limited.map((info) => info.key)).toEqual([...keys].sort(byUtf8Bytes).slice(3, 9));
        expect(proxy.requests).toHaveLength(2);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('when S3 fails', () => {
    let proxy: FaultProxy;

    beforeEach(async () => {
      proxy = await startFaultProxy(s3.endpoint);
    });

    afterEach(async () => {
      await lake?.close();
      await proxy.close();
    });

    const openThroughProxy = (overrides: Partial<S3LakeOptions> = {}): Promise<S3Lake> =>
      S3Lake.open(lakeOptions({ bucket, endpoint: proxy.endpoint, initialRetryDelayMs: 5, maxRetryDelayMs: 20, ...overrides }));

    it.each([500, 503])('should retry a put and a get answered %i a few times, then succeed', async (status) => {
      lake = await openThroughProxy({ maxAttempts: 5 });
      proxy.resetCount();
      proxy.failNext(3, status);
      expect(await lake.put('retried', 'made it')).toEqual({ etag: md5Etag('made it'), size: 7 });
      expect(proxy.requests.map((request) => request.outcome)).toEqual(['failed', 'failed', 'failed', 'forwarded']);
      proxy.resetCount();
      proxy.failNext(2, status);
      expect((await getObject(lake, 'retried')).content.toString()).toBe('made it');
      expect(proxy.requests).toHaveLength(3);
    });

    it.each<[string, number, string]>([
      ['throttling (503 SlowDown)', 503, 'SlowDown'],
      ['throttling (429)', 429, 'TooManyRequestsException'],
      ["S3's own request timeout (400 RequestTimeout)", 400, 'RequestTimeout'],
      ['a bad gateway (502)', 502, 'BadGateway'],
      ['a gateway timeout (504)', 504, 'GatewayTimeout'],
    ])('should retry %s', async (_label, status, code) => {
      lake = await openThroughProxy();
      proxy.resetCount();
      proxy.failNext(2, status, code);
      expect(await lake.put('throttled', 'through')).toEqual({ etag: md5Etag('through'), size: 7 });
      expect(proxy.requests.map((request) => request.outcome)).toEqual(['failed', 'failed', 'forwarded']);
    });

    it('should not retry a refusal (403 AccessDenied), and say so in a non-retriable error', async () => {
      lake = await openThroughProxy();
      proxy.resetCount();
      proxy.failNext(1, 403, 'AccessDenied');
      const error = await lake.put('denied', 'nope').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PlatformError);
      expect((error as PlatformError).retriable).toBe(false);
      expect((error as PlatformError).context).toMatchObject({ bucket, key: 'denied', status: 403, s3Code: 'AccessDenied' });
      expect(proxy.requests).toHaveLength(1);
    });

    it('should retry a request that stalls past the timeout', async () => {
      lake = await openThroughProxy({ requestTimeoutMs: 300 });
      await lake.put('slow', 'eventually');
      proxy.resetCount();
      proxy.hangNext(1);
      const started = Date.now();
      expect((await lake.head('slow'))?.etag).toBe(md5Etag('eventually'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(proxy.requests.map((request) => request.outcome)).toEqual(['hung', 'forwarded']);
    });

    it('should give up after maxAttempts with a retriable ConnectionError naming the bucket, key and status', async () => {
      lake = await openThroughProxy({ maxAttempts: 3 });
      proxy.resetCount();
      proxy.failAlways(503);
      const error = await lake.get('never-answered').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).retriable).toBe(true);
      expect((error as ConnectionError).context).toMatchObject({ bucket, key: 'never-answered', status: 503 });
      expect(proxy.requests).toHaveLength(3);
    });

    it('should give up on a request that always stalls with a retriable TimeoutError', async () => {
      lake = await openThroughProxy({ maxAttempts: 2, requestTimeoutMs: 200 });
      proxy.resetCount();
      proxy.hangNext(5);
      const error = await lake.put('stalled', 'never stored').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).retriable).toBe(true);
      expect(proxy.requests).toHaveLength(2);
    });

    it('should retry the parts of a multipart upload one by one', async () => {
      const threshold = 5 * 1024 * 1024;
      lake = await openThroughProxy({ multipartThresholdBytes: threshold });
      const content = randomBytes(threshold + 1000);
      proxy.resetCount();
      proxy.failNext(2, 500); // the first two requests: creating the upload, then its retry
      const put = await lake.put('parts/retried.bin', content);
      expect(proxy.requests.slice(0, 3).map((request) => [request.method, request.outcome])).toEqual([
        ['POST', 'failed'],
        ['POST', 'failed'],
        ['POST', 'forwarded'],
      ]);
      const { info, content: read } = await getObject(lake, 'parts/retried.bin');
      expect(read.equals(content)).toBe(true);
      expect(info.etag).toBe(put.etag);
    });

    it('should report a body cut off midway as a retriable ConnectionError, and read it whole the next time', async () => {
      lake = await openThroughProxy();
      const content = randomBytes(1_000_000);
      await lake.put('cut.bin', content);
      proxy.resetCount();
      proxy.cutNext(1, 100_000);
      const { info, body } = await lake.get('cut.bin');
      expect(info.size).toBe(content.length);
      const error = await readStream(body).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).context).toMatchObject({ bucket, key: 'cut.bin' });
      expect(proxy.requests.map((request) => request.outcome)).toEqual(['cut']);
      expect((await getObject(lake, 'cut.bin')).content.equals(content)).toBe(true);
    });

    it('should not retry a missing object', async () => {
      lake = await openThroughProxy();
      proxy.resetCount();
      await expect(lake.get('absent')).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await lake.head('absent')).toBeUndefined();
      expect(proxy.requests).toHaveLength(2);
    });
  });

  describe('when opened on a bucket that does not exist', () => {
    it('should refuse with NotFoundError naming the bucket', async () => {
      const missing = `missing-${randomUUID().slice(0, 8)}`;
      const error = await S3Lake.open(lakeOptions({ bucket: missing })).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).not.toBeInstanceOf(ObjectNotFoundError);
      expect((error as NotFoundError).message).toContain(`the bucket "${missing}" does not exist`);
      expect((error as NotFoundError).context).toMatchObject({ bucket: missing, status: 404 });
    });
  });

  describe('when closed', () => {
    it('should refuse every operation', async () => {
      lake = await S3Lake.open(lakeOptions({ bucket }));
      await lake.put('k', 'v');
      await lake.close();
      for (const attempt of [() => lake.put('k', 'w'), () => lake.get('k'), () => lake.head('k'), () => lake.delete('k'), () => listAll(lake, '')]) {
        await expect(attempt()).rejects.toBeInstanceOf(ClosedError);
      }
    });
  });

  describe('when opened from config', () => {
    it('should open the S3 lake the config names, with its location', async () => {
      const config = loadConfig({
        env: {
          LAKE: 's3',
          S3_BUCKET: bucket,
          S3_PREFIX: 'configured',
          S3_ENDPOINT: s3.endpoint,
          S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        },
      });
      const opened = await openLake(config, { logger: silentLogger() });
      try {
        expect(opened.lake).toBeInstanceOf(S3Lake);
        expect(opened.location).toBe(`s3://${bucket}/configured/ at ${s3.endpoint}`);
        await opened.lake.put('from-config', 'yes');
        lake = await S3Lake.open(lakeOptions({ bucket }));
        expect((await getObject(lake, 'configured/from-config')).content.toString()).toBe('yes');
      } finally {
        await opened.lake.close();
      }
    });

    it('should refuse an access key without its secret, rather than fall back to other credentials', async () => {
      const config = loadConfig({ env: { LAKE: 's3', S3_BUCKET: bucket, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: s3.credentials.accessKeyId } });
      const error = await openLake(config, { logger: silentLogger() }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain('secretAccessKey');
    });
  });
});
