/**
 * The files DuckDB reads for archive objects: the lake's own where it keeps local files (the local
 * lake), otherwise cached downloads (S3), kept by key and ETag. Both the batch recompute and the Kappa
 * reprocessor read the archive through this one place.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { Lake } from '../ports/lake/lake.js';
import type { ArchiveFile } from './archive-layout.js';
import { LakeFileCache } from './lake-file-cache.js';

export interface ArchiveFilesOptions {
  lake: Lake;
  /** Where downloads of a lake without local files are kept. Default `<os temp dir>/lambda-lake-cache`. */
  cacheDirectory?: string;
  logger?: Logger;
}

export class ArchiveFiles {
  private cache: Promise<LakeFileCache> | undefined;

  constructor(private readonly options: ArchiveFilesOptions) {}

  /** A local path holding the archive file's content, as of the ETag it was listed with. */
  async localPath(file: Pick<ArchiveFile, 'key' | 'etag'>): Promise<string> {
    const { lake, cacheDirectory, logger } = this.options;
    if (lake.localPath) return lake.localPath(file.key);
    this.cache ??= LakeFileCache.open({ lake, directory: cacheDirectory ?? join(tmpdir(), 'lambda-lake-cache'), logger }).catch((error: unknown) => {
      this.cache = undefined; // the next read tries again
      throw error;
    });
    return (await this.cache).localPath(file.key, file.etag);
  }
}
