/** The parts of s3rver (which ships no types) that the tests use. */
declare module 's3rver' {
  import type { Server } from 'node:http';

  export interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Starts listening; resolves to the bound address. */
    run(): Promise<{ address: string; port: number; family: string }>;
    close(): Promise<void>;
    httpServer: Server;
    store: unknown;
    context: { store: unknown };
    /** Koa's middleware list: the helper puts its own first. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    middleware: Array<(ctx: any, next: () => Promise<void>) => Promise<void>>;
  }
}

declare module 's3rver/lib/stores/filesystem.js' {
  import type { Readable } from 'node:stream';

  export interface S3rverObject {
    bucket: string;
    key: string;
    content: Readable | Buffer;
    metadata: Record<string, string>;
  }

  export interface S3rverListOptions {
    delimiter?: string;
    startAfter?: string;
    prefix?: string;
    maxKeys?: number;
  }

  export interface S3rverListing {
    objects: unknown[];
    commonPrefixes: string[];
    isTruncated: boolean;
  }

  export default class FilesystemStore {
    constructor(rootDirectory: string);
    rootDirectory: string;
    getBucketPath(bucket: string): string;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
    listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListing>;
    putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
    deleteObject(bucket: string, key: string): Promise<void>;
    existsObject(bucket: string, key: string): Promise<boolean>;
  }
}

declare module 's3rver/lib/models/object.js' {
  export default class S3Object {
    constructor(bucket: string, key: string, content: unknown, metadata: Record<string, string | number>);
  }
}
