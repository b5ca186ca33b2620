/**
 * Local copies of lake objects, for readers that need files (DuckDB reading Parquet) when the lake keeps
 * none (S3). A copy is named by its key and ETag:
 *
 *   <directory>/<sha256 of the key>/<ETag's hex>-<the key's last segment>
 *
 * so a copy is reused only while the object is unchanged, and a new version of an object replaces the
 * copies of older ones. Each download streams into a temporary file, checks its size, and is renamed
 * into place, so a reader (or a crash) sees a whole copy or none. A download cut off by a retriable
 * error (a connection lost mid-body) starts again. Several processes may share the directory: each
 * downloads into a temporary folder of its own.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CorruptDataError, ObjectNotFoundError } from '../errors/errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Lake } from '../ports/lake/lake.js';
import { validateObjectKey } from '../ports/lake/object-key.js';
import { retry } from '../retry/retry.js';

export interface LakeFileCacheOptions {
  lake: Lake;
  /** Where copies are kept; created if missing. Only this cache should write there. */
  directory: string;
  /** Attempts per download, when one is cut off by a retriable error. Default 3. */
  downloadAttempts?: number;
  logger?: Logger;
}

const TEMPORARY = '.tmp';
/** A temporary folder untouched for this long belongs to a process that died mid-download. */
const ABANDONED_AFTER_MS = 60 * 60_000;

export class LakeFileCache {
  /** Downloads in flight, by key and ETag, so concurrent asks for one object download it once. */
  private readonly downloads = new Map<string, Promise<string>>();

  private constructor(
    private readonly lake: Lake,
    private readonly directory: string,
    private readonly temporaryDirectory: string,
    private readonly downloadAttempts: number,
    private readonly logger: Logger,
  ) {}

  static async open(options: LakeFileCacheOptions): Promise<LakeFileCache> {
    const temporaries = join(options.directory, TEMPORARY);
    await mkdir(temporaries, { recursive: true });
    for (const name of await readdir(temporaries)) {
      const path = join(temporaries, name);
      const modified = (await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now();
      if (Date.now() - modified > ABANDONED_AFTER_MS) await rm(path, { recursive: true, force: true });
    }
    const mine = join(temporaries, `${process.pid}-${randomUUID()}`);
    await mkdir(mine);
    const logger = (options.logger ?? silentLogger()).child({ ns: 'lake-file-cache' });
    return new LakeFileCache(options.lake, options.directory, mine, options.downloadAttempts ?? 3, logger);
  }

  /**
   * A local file holding the object's content. `etag` is the version the caller expects (from a listing);
   * without it the lake is asked. ObjectNotFoundError if the object is gone.
   */
  async localPath(key: string, etag?: string): Promise<string> {
    validateObjectKey(key);
    const expected = etag ?? (await this.lake.head(key))?.etag;
    if (expected === undefined) throw new ObjectNotFoundError(`No object "${key}" in the lake`, { key });
    const path = this.pathOf(key, expected);
    if (await isFile(path)) return path;
    const id = `${key}\u0000${expected}`;
    let download = this.downloads.get(id);
    if (!download) {
      download = retry(() => this.download(key, expected), {
        attempts: this.downloadAttempts,
        logger: this.logger,
        operation: `downloading "${key}"`,
      }).finally(() => this.downloads.delete(id));
      this.downloads.set(id, download);
    }
    return download;
  }

  private async download(key: string, expected: string): Promise<string> {
    const temporary = join(this.temporaryDirectory, randomUUID());
    try {
      const { info, body } = await this.lake.get(key);
      // The object may have changed since it was listed: the copy is named by what was read.
      const path = this.pathOf(key, info.etag);
      if (info.etag !== expected) this.logger.debug({ key, expected, read: info.etag }, 'object changed since it was listed');
      await pipeline(body, createWriteStream(temporary, { flags: 'wx' }));
      const { size } = await stat(temporary);
      if (size !== info.size) {
        throw new CorruptDataError(`Downloaded ${size} bytes of "${key}", which has ${info.size}`, { key, etag: info.etag, size, expected: info.size });
      }
      await mkdir(join(path, '..'), { recursive: true });
      await rename(temporary, path);
      await this.evictOtherVersions(path);
      this.logger.debug({ key, etag: info.etag, size }, 'cached lake object');
      return path;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** Removes the copies of other versions of the object whose copy is `path`. */
  private async evictOtherVersions(path: string): Promise<void> {
    const folder = join(path, '..');
    const name = path.slice(folder.length + 1);
    for (const other of await readdir(folder).catch(() => [])) {
      if (other !== name) await rm(join(folder, other), { force: true });
    }
  }

  private pathOf(key: string, etag: string): string {
    const folder = createHash('sha256').update(key).digest('hex');
    // ETags are hex, maybe with a part count ("…-3"), in quotes: keep the safe characters only.
    const version = etag.replace(/[^0-9A-Za-z-]/g, '') || 'none';
    // The key's last segment keeps the extension, which readers such as DuckDB may look at.
    const last = key.slice(key.lastIndexOf('/') + 1).replace(/[^0-9A-Za-z._-]/g, '_').slice(-100);
    return join(this.directory, folder, `${version}-${last}`);
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
