// s3rver ships no types: the reference brings its declarations along when another package's tests import this helper.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./types/s3rver.d.ts" />
/**
 * A real S3 HTTP API for tests: s3rver on a free port, storing under a temp dir, with a bucket created.
 *
 * s3rver departs from S3 in ways the lake relies on, so this helper gives it S3's behaviour there: its
 * store lists keys in directory order (S3 lists them in UTF-8 byte order, and pages by that order), and
 * writes objects in place (S3 replaces an object whole, so a reader that opened the old content keeps
 * reading it, and concurrent puts leave one of them whole); and its continuation tokens use DES, which
 * Node 20's OpenSSL refuses, so every truncated listing failed with a 500. Here a token is the last key
 * listed, and the next page starts after it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';
import FilesystemStore, { type S3rverListOptions, type S3rverListing, type S3rverObject } from 's3rver/lib/stores/filesystem.js';
import S3Object from 's3rver/lib/models/object.js';
import { makeTempDir } from './temp-dir.js';

/** s3rver's fixed credentials: it checks request signatures against them. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`: use with path-style addressing. */
  endpoint: string;
  /** A bucket created at start. */
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Creates another bucket (a fresh name when none is given) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

export interface S3TestServerOptions {
  /** The bucket to create at start. Default a fresh `test-<random>` name. */
  bucket?: string;
}

const OBJECT_SUFFIX = '._S3rver_object';

/** Where a listing was cut, for the continuation-token middleware to report. */
const truncation = new AsyncLocalStorage<{ lastKey?: string }>();

/** s3rver's store with S3's list order and whole-object replacement. */
class S3LikeStore extends FilesystemStore {
  /** Writes in progress per object, so each put's content, ETag and metadata land together. */
  private readonly writes = new Map<string, Promise<unknown>>();

  override async listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListing> {
    if (options.delimiter) return super.listObjects(bucket, options);
    const { prefix = '', startAfter = '', maxKeys = Infinity } = options;
    const bucketPath = this.getBucketPath(bucket);
    const after = Buffer.from(startAfter);
    const keys = (await objectFilesUnder(bucketPath))
      .map((path) => relative(bucketPath, path).split(sep).join('/').slice(0, -OBJECT_SUFFIX.length))
      .filter((key) => key.startsWith(prefix) && Buffer.compare(Buffer.from(key), after) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, maxKeys);
    const objects: unknown[] = [];
    for (const key of page) {
      const metadata = await this.getMetadata(bucket, key).catch(() => undefined);
      if (metadata) objects.push(new S3Object(bucket, key, null, metadata));
    }
    const truncated = keys.length > page.length;
    const cut = truncation.getStore();
    // s3rver would make a token of its own, with DES: the middleware below makes it instead.
    if (truncated && cut) cut.lastKey = page.at(-1);
    return { objects, commonPrefixes: [], isTruncated: truncated && !cut };
  }

  override async putObject(object: S3rverObject): Promise<{ size: number; md5: string }> {
    return this.serialized(object.bucket, object.key, async () => {
      const path = this.getResourcePath(object.bucket, object.key, 'object');
      await mkdir(dirname(path), { recursive: true });
      // Not named like an object, so a listing never sees it.
      const temporary = `${path}.${randomUUID()}.tmp`;
      const hash = createHash('md5');
      let size = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      try {
        const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
        await pipeline(source, counted, createWriteStream(temporary));
        await rename(temporary, path);
      } finally {
        await rm(temporary, { force: true });
      }
      const md5 = hash.digest('hex');
      await this.putMetadata(object.bucket, object.key, object.metadata, md5);
      return { size, md5 };
    });
  }

  override async deleteObject(bucket: string, key: string): Promise<void> {
    // s3rver fails (500) deleting an absent key below an object, where S3 succeeds.
    return this.serialized(bucket, key, async () => {
      if (await this.existsObject(bucket, key)) await super.deleteObject(bucket, key);
    });
  }

  private async serialized<T>(bucket: string, key: string, write: () => Promise<T>): Promise<T> {
    const id = `${bucket}/${key}`;
    const previous = this.writes.get(id) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(write);
    this.writes.set(id, current);
    try {
      return await current;
    } finally {
      if (this.writes.get(id) === current) this.writes.delete(id);
    }
  }
}

async function objectFilesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith(OBJECT_SUFFIX)).map((entry) => join(entry.parentPath, entry.name));
}

interface KoaContext {
  method: string;
  query: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Continuation tokens for ListObjectsV2 (list-type=2): the last key listed, base64url-encoded. */
async function continuationTokens(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  if (ctx.method !== 'GET' || ctx.query['list-type'] !== '2') return next();
  const token = ctx.query['continuation-token'];
  if (typeof token === 'string') {
    const { 'continuation-token': _token, ...rest } = ctx.query;
    ctx.query = { ...rest, 'start-after': Buffer.from(token, 'base64url').toString('utf8') };
  }
  const cut: { lastKey?: string } = {};
  await truncation.run(cut, next);
  if (cut.lastKey !== undefined && typeof ctx.body === 'string') {
    const next = Buffer.from(cut.lastKey, 'utf8').toString('base64url');
    ctx.body = ctx.body.replace(
      '<IsTruncated>false</IsTruncated>',
      `<IsTruncated>true</IsTruncated><NextContinuationToken>${next}</NextContinuationToken>`,
    );
  }
}

export async function startS3Server(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const dir = await makeTempDir('s3rver');
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir.path, silent: true });
  const store = new S3LikeStore(dir.path);
  server.store = store;
  server.context.store = store;
  server.middleware.unshift(continuationTokens);
  try {
    const { port } = await server.run();
    const createBucket = async (name = `test-${randomUUID().slice(0, 13)}`): Promise<string> => {
      await mkdir(store.getBucketPath(name), { recursive: true });
      return name;
    };
    const bucket = await createBucket(options.bucket);
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      region: 'us-east-1',
      credentials: { ...S3RVER_CREDENTIALS },
      createBucket,
      async close() {
        // Keep-alive sockets would hold close() open until they time out.
        const closing = server.close();
        server.httpServer.closeAllConnections();
        await closing;
        await dir.remove();
      },
    };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}
