/**
 * The lake on S3 (or MinIO, or anything speaking its API): object `a/b.parquet` is the S3 object
 * `<prefix>a/b.parquet` in the bucket.
 *
 * Bodies of known size up to `multipartThresholdBytes` go up in one PutObject; larger ones and streams
 * through lib-storage's Upload, which sends a stream that turns out small as one PutObject too, and
 * anything bigger in parts (S3 replaces the object whole when the upload completes). Every request is
 * retried by the platform's one retry helper (the SDK's own retries are off, so there is one policy),
 * each attempt bounded by a request timeout, and S3's failures become platform errors.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import {
  ClosedError,
  InvalidArgumentError,
  ObjectNotFoundError,
  silentLogger,
  type Logger,
  retry,
  type Lake,
  type LakeObjectInfo,
  type ListOptions,
  type ObjectBody,
  validateObjectKey,
  validateObjectPrefix,
} from '@lambda/core';
import { toPlatformError, type S3ErrorContext } from './s3-errors.js';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last): uploads in parts never use smaller ones. */
const MIN_PART_BYTES = 5 * MiB;

export interface S3LakeOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /** A key prefix inside the bucket, so several platforms can share one. Default none. */
  prefix?: string;
  /** Default 'us-east-1'. */
  region?: string;
  /** A non-AWS endpoint such as MinIO's (`http://host:9000`); AWS's own when unset. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), as MinIO and s3rver need. Default true. */
  forcePathStyle?: boolean;
  /** Credentials; the AWS SDK's own chain (environment, profile, instance role) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Bodies larger than this are uploaded in parts of this size (at least 5 MiB, S3's minimum). Default 16 MiB. */
  multipartThresholdBytes?: number;
  /** Attempts per request, the first included. Default 5. */
  maxAttempts?: number;
  /** The wait before the second attempt, doubling (with jitter) up to `maxRetryDelayMs`. Default 100 ms. */
  initialRetryDelayMs?: number;
  /** Default 5 s. */
  maxRetryDelayMs?: number;
  /** An attempt that sees no data for this long fails with a retriable TimeoutError. Default 30 s. */
  requestTimeoutMs?: number;
  /** An attempt that cannot connect within this fails, retriably. Default 5 s. */
  connectionTimeoutMs?: number;
  /** Keys asked for per listing request (S3 answers at most 1000). Default 1000. */
  listPageSize?: number;
  logger?: Logger;
}

export class S3Lake implements Lake {
  private closed = false;
  /** The client Upload uses: the same one, with every request retried as this lake retries its own. */
  private readonly retryingClient: S3Client;

  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly partBytes: number,
    private readonly listPageSize: number,
    private readonly retryOptions: { attempts: number; initialDelayMs: number; maxDelayMs: number; logger: Logger },
  ) {
    this.retryingClient = new Proxy(client, {
      get: (target, property, receiver) => {
        if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
        return (command: { input: { Key?: string } }, options?: unknown) =>
          this.withRetry(command.constructor.name.replace(/Command$/, ''), command.input.Key, () =>
            // A fresh command per attempt: the SDK attaches middleware to a command as it sends it.
            target.send(freshCommand(command) as never, options as never),
          );
      },
    });
  }

  /** Opens the lake after checking that the bucket exists and answers. */
  static async open(options: S3LakeOptions): Promise<S3Lake> {
    const prefix = normalizePrefix(options.prefix ?? '');
    const listPageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(listPageSize) || listPageSize < 1 || listPageSize > 1000) {
      throw new InvalidArgumentError(`The S3 lake's listPageSize must be an integer from 1 to 1000, not ${listPageSize}`, { listPageSize });
    }
    const client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? true,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // One retry policy, the platform's: the SDK tries each request once.
      maxAttempts: 1,
      // An inactivity timeout, not a total one: a large object may take long to stream, but never stalls.
      requestHandler: { socketTimeout: options.requestTimeoutMs ?? 30_000, connectionTimeout: options.connectionTimeoutMs ?? 5_000 },
      // Checksums only where S3 requires them: MinIO and s3rver do not all speak the newer trailing checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const lake = new S3Lake(client, options.bucket, prefix, Math.max(MIN_PART_BYTES, options.multipartThresholdBytes ?? 16 * MiB), listPageSize, {
      attempts: options.maxAttempts ?? 5,
      initialDelayMs: options.initialRetryDelayMs ?? 100,
      maxDelayMs: options.maxRetryDelayMs ?? 5_000,
      logger: (options.logger ?? silentLogger()).child({ ns: 's3-lake', bucket: options.bucket }),
    });
    try {
      await lake.withRetry('HeadBucket', undefined, () => client.send(new HeadBucketCommand({ Bucket: options.bucket })));
      return lake;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  /** Where the lake lives, for people: `s3://bucket/prefix`. */
  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async put(key: string, body: ObjectBody): Promise<{ etag: string; size: number }> {
    this.assertOpen();
    const objectKey = this.objectKey(key);
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (bytes.length <= this.partBytes) {
        const result = await this.withRetry('PutObject', objectKey, () =>
          this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: bytes, ContentLength: bytes.length })),
        );
        return { etag: quoted(result.ETag), size: bytes.length };
      }
      return { etag: await this.upload(objectKey, bytes), size: bytes.length };
    }
    let size = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          size += bytes.length;
          yield bytes;
        }
      })(),
      { objectMode: false },
    );
    const etag = await this.upload(objectKey, counted);
    return { etag, size };
  }

  async get(key: string): Promise<{ info: LakeObjectInfo; body: Readable }> {
    this.assertOpen();
    const objectKey = this.objectKey(key);
    const response = await this.withRetry('GetObject', objectKey, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey })));
    const body = response.Body;
    if (!(body instanceof Readable)) throw new ObjectNotFoundError(`No body for object "${key}" in the lake`, { bucket: this.bucket, key: objectKey });
    const context = { operation: 'GetObject (reading the body)', bucket: this.bucket, key: objectKey };
    return {
      info: { key, size: response.ContentLength ?? 0, etag: quoted(response.ETag), lastModified: response.LastModified ?? new Date(0) },
      // A connection lost mid-body surfaces as a retriable platform error, so a reader knows to read again.
      body: Readable.from(withPlatformErrors(body, context), { objectMode: false }),
    };
  }

  async head(key: string): Promise<LakeObjectInfo | undefined> {
    this.assertOpen();
    const objectKey = this.objectKey(key);
    try {
      const response = await this.withRetry('HeadObject', objectKey, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey })),
      );
      return { key, size: response.ContentLength ?? 0, etag: quoted(response.ETag), lastModified: response.LastModified ?? new Date(0) };
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<LakeObjectInfo> {
    this.assertOpen();
    validateObjectPrefix(prefix);
    let remaining = options.limit ?? Infinity;
    const startAfter = options.startAfter === undefined ? undefined : this.prefix + options.startAfter;
    let continuationToken: string | undefined;
    while (remaining > 0) {
      const page = await this.withRetry('ListObjectsV2', this.prefix + prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            MaxKeys: Math.min(this.listPageSize, remaining),
            ...(continuationToken === undefined ? (startAfter === undefined ? {} : { StartAfter: startAfter }) : { ContinuationToken: continuationToken }),
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (remaining <= 0) return;
        remaining--;
        yield this.infoOf(object);
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      continuationToken = page.NextContinuationToken;
    }
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    const objectKey = this.objectKey(key);
    await this.withRetry('DeleteObject', objectKey, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  /** Sends a body in parts when it is large, in one request when it is not; every request retried. */
  private async upload(objectKey: string, body: Buffer | Readable): Promise<string> {
    const upload = new Upload({
      client: this.retryingClient,
      params: { Bucket: this.bucket, Key: objectKey, Body: body },
      partSize: this.partBytes,
      queueSize: 4,
    });
    const result = await upload.done();
    return quoted(result.ETag);
  }

  private async withRetry<T>(operation: string, objectKey: string | undefined, call: () => Promise<T>): Promise<T> {
    return retry(
      async () => {
        this.assertOpen();
        try {
          return await call();
        } catch (error) {
          throw toPlatformError(error, { operation, bucket: this.bucket, key: objectKey });
        }
      },
      { ...this.retryOptions, operation: `S3 ${operation}` },
    );
  }

  private objectKey(key: string): string {
    return this.prefix + validateObjectKey(key);
  }

  private infoOf(object: _Object): LakeObjectInfo {
    return {
      key: (object.Key ?? '').slice(this.prefix.length),
      size: object.Size ?? 0,
      etag: quoted(object.ETag),
      lastModified: object.LastModified ?? new Date(0),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The S3 lake');
  }
}

/** The prefix as stored: '' or segments ending in '/', so `platform-a` and `platform-a/` are the same. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  validateObjectPrefix(`${trimmed}/`);
  return `${trimmed}/`;
}

/** ETags as S3 documents them, in double quotes (some servers drop the quotes). */
function quoted(etag: string | undefined): string {
  if (etag === undefined) return '""';
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

async function* withPlatformErrors(body: Readable, context: S3ErrorContext): AsyncIterable<Buffer> {
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (error) {
    throw toPlatformError(error, context);
  }
}

function freshCommand<C extends { input: unknown }>(command: C): C {
  const Command = command.constructor as new (input: unknown) => C;
  return new Command(command.input);
}
