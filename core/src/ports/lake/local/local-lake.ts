/**
 * The lake in a local folder: object `a/b/c.parquet` is the file `<directory>/a/b/c.parquet`, so the
 * lake can be browsed (and DuckDB can read it) directly.
 *
 * Each put streams into a temporary file, flushes it and renames it into place, so a reader or a crash
 * sees the old object or the new one whole. ETags are the MD5 of the content, as S3 gives for single-part
 * uploads, computed while writing and cached under `.lake/etags` against the file's inode, size and mtime.
 * Cache entries are named by a hash of the key, so keys such as `a` and `a.json/b`, or segments near the
 * file system's name limit, never collide in the cache.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ClosedError, ConflictError, ObjectNotFoundError } from '../../../errors/errors.js';
import { syncDirectory } from '../../../storage/atomic-file.js';
import { writeAll } from '../../../storage/write-all.js';
import type { Lake, LakeObjectInfo, ListOptions, ObjectBody } from '../lake.js';
import { validateObjectKey, validateObjectPrefix } from '../object-key.js';

export interface LocalLakeOptions {
  /** The lake's folder; created if missing. */
  directory: string;
  /** Flush each object to disk before acknowledging the put. Default true. */
  fsync?: boolean;
}

interface CachedEtag {
  key: string;
  ino: number;
  size: number;
  mtimeMs: number;
  etag: string;
}

const INTERNAL = '.lake';

export class LocalLake implements Lake {
  private closed = false;
  /** ETag cache entries already read, by key: lists then cost a stat per object, not a file read. */
  private readonly etags = new Map<string, CachedEtag>();

  private constructor(
    private readonly directory: string,
    private readonly fsync: boolean,
  ) {}

  static async open(options: LocalLakeOptions): Promise<LocalLake> {
    // Temporary files are only ever half-written puts of a process that died: none is an object.
    await rm(join(options.directory, INTERNAL, 'tmp'), { recursive: true, force: true });
    await mkdir(join(options.directory, INTERNAL, 'tmp'), { recursive: true });
    await mkdir(join(options.directory, INTERNAL, 'etags'), { recursive: true });
    return new LocalLake(options.directory, options.fsync ?? true);
  }

  async put(key: string, body: ObjectBody): Promise<{ etag: string; size: number }> {
    this.assertOpen();
    validateObjectKey(key);
    const temporary = join(this.directory, INTERNAL, 'tmp', randomUUID());
    const hash = createHash('md5');
    let size = 0;
    let written: Stats;
    try {
      const handle = await open(temporary, 'wx');
      try {
        for await (const chunk of chunksOf(body)) {
          hash.update(chunk);
          size += await writeAll(handle, [chunk]);
        }
        if (this.fsync) await handle.sync();
        // The file's own stats (a rename keeps its inode and mtime): a stat of the path after the rename
        // could describe a concurrent put's file, and cache this content's ETag against it.
        written = await handle.stat();
      } finally {
        await handle.close();
      }
      const path = this.pathOf(key);
      await this.makeParent(key, path);
      await rename(temporary, path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EISDIR' || error.code === 'ENOTEMPTY' || error.code === 'EEXIST') throw this.prefixConflict(key);
        throw error;
      });
      if (this.fsync) await syncDirectory(dirname(path));
      const etag = `"${hash.digest('hex')}"`;
      await this.cacheEtag(key, written, etag);
      return { etag, size };
    } finally {
      await rm(temporary, { force: true });
    }
  }

  async get(key: string): Promise<{ info: LakeObjectInfo; body: Readable }> {
    this.assertOpen();
    validateObjectKey(key);
    // Open first and describe what was opened: a concurrent put renames a new file into place, but this
    // handle keeps reading the content its info describes.
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      throw notFoundOr(error, key);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new ObjectNotFoundError(`No object "${key}" in the lake`, { key });
      const info = await this.describe(key, stats, handle);
      return { info, body: handle.createReadStream({ start: 0, autoClose: true }) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async head(key: string): Promise<LakeObjectInfo | undefined> {
    this.assertOpen();
    validateObjectKey(key);
    const stats = await stat(this.pathOf(key)).catch(() => undefined);
    if (!stats?.isFile()) return undefined;
    return this.describe(key, stats);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<LakeObjectInfo> {
    this.assertOpen();
    validateObjectPrefix(prefix);
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys = (await this.walk(base))
      .filter((key) => key.startsWith(prefix) && (options.startAfter === undefined || compareKeys(key, options.startAfter) > 0))
      .sort(compareKeys);
    let listed = 0;
    for (const key of keys) {
      if (options.limit !== undefined && listed >= options.limit) return;
      const stats = await stat(this.pathOf(key)).catch(() => undefined);
      if (!stats) continue; // deleted while listing
      listed++;
      yield await this.describe(key, stats);
    }
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    validateObjectKey(key);
    const path = this.pathOf(key);
    const stats = await stat(path).catch(() => undefined);
    if (stats?.isDirectory()) return; // a prefix of other objects, not an object: nothing to delete
    await rm(path, { force: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTDIR') throw error; // a parent is an object, so this key is absent
    });
    await rm(this.etagPathOf(key), { force: true });
    this.etags.delete(key);
    await this.pruneEmptyParents(dirname(path));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  localPath(key: string): string {
    return this.pathOf(validateObjectKey(key));
  }

  private pathOf(key: string): string {
    return join(this.directory, ...key.split('/'));
  }

  private etagPathOf(key: string): string {
    return join(this.directory, INTERNAL, 'etags', `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  private async makeParent(key: string, path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTDIR' || error.code === 'EEXIST') {
        throw new ConflictError(`Object key "${key}" runs through an existing object: the local lake cannot hold both`, { key });
      }
      throw error;
    });
  }

  private prefixConflict(key: string): ConflictError {
    return new ConflictError(`Object key "${key}" is the prefix of existing objects ("${key}/..."): the local lake cannot hold both`, {
      key,
    });
  }

  /** Info for an object, with its ETag from the cache when the file is the one the cache describes. */
  private async describe(key: string, stats: Stats, handle?: FileHandle): Promise<LakeObjectInfo> {
    // The cache file is read once per object and process; both copies are checked against the file.
    const cached =
      this.etags.get(key) ??
      (await readFile(this.etagPathOf(key), 'utf8')
        .then((text) => JSON.parse(text) as CachedEtag)
        .catch(() => undefined));
    const current = cached?.key === key && cached.ino === stats.ino && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs;
    if (current) this.etags.set(key, cached);
    let etag = current ? cached.etag : undefined;
    if (etag === undefined) {
      etag = await md5Of(handle ?? this.pathOf(key));
      await this.cacheEtag(key, stats, etag);
    }
    return { key, size: stats.size, etag, lastModified: stats.mtime };
  }

  private async cacheEtag(key: string, stats: Stats, etag: string): Promise<void> {
    const path = this.etagPathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const entry: CachedEtag = { key, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, etag };
    await writeFile(path, JSON.stringify(entry));
    this.etags.set(key, entry);
  }

  /** Every object key under `base` (a key prefix ending at a '/' boundary, or '' for all). */
  private async walk(base: string): Promise<string[]> {
    const keys: string[] = [];
    const visit = async (relative: string): Promise<void> => {
      const entries = await readdir(relative ? this.pathOf(relative) : this.directory, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!relative && entry.name === INTERNAL) continue;
        const key = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await visit(key);
        else if (entry.isFile()) keys.push(key);
      }
    };
    await visit(base);
    return keys;
  }

  private async pruneEmptyParents(directory: string): Promise<void> {
    let current = directory;
    while (current.length > this.directory.length && current.startsWith(this.directory + sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty, or gone: stop
      }
      current = dirname(current);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The local lake');
  }
}

/** S3 orders keys by their UTF-8 bytes, which differs from JavaScript's UTF-16 order for some characters. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function* chunksOf(body: ObjectBody): AsyncIterable<Buffer> {
  if (typeof body === 'string') {
    yield Buffer.from(body);
  } else if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  } else {
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
}

async function md5Of(source: string | FileHandle): Promise<string> {
  const hash = createHash('md5');
  const stream = typeof source === 'string' ? createReadStream(source) : source.createReadStream({ start: 0, autoClose: false });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `"${hash.digest('hex')}"`;
}

function notFoundOr(error: unknown, key: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return new ObjectNotFoundError(`No object "${key}" in the lake`, { key });
  return error;
}
