/**
 * Reads a topic's records back from the lake archive, for reprocessing offsets the log no longer holds
 * (below its start offsets). The archive's layout, its chain check and the local copies DuckDB reads are
 * the platform's one lake-archive contract (`listArchiveFiles`, `ArchiveFiles` in @lambda/core); each
 * file holds the *valid* records of its range with their raw JSON value, read here with DuckDB and handed
 * on as log records, so they are decoded and folded exactly as the speed layer folds the log.
 */
import { DuckDBInstance, VARCHAR, LIST, listValue } from '@duckdb/node-api';
import { ArchiveFiles, CorruptDataError, listArchiveFiles, type Lake, type LogRecord } from '@lambda/core';

export interface LakeArchiveReaderOptions {
  lake: Lake;
  /** Where objects of a lake without local files (S3) are downloaded, kept by key and ETag. */
  cacheDirectory: string;
}

export class LakeArchiveReader {
  private readonly files: ArchiveFiles;

  private constructor(
    private readonly options: LakeArchiveReaderOptions,
    private readonly duckdb: DuckDBInstance,
  ) {
    this.files = new ArchiveFiles({ lake: options.lake, cacheDirectory: options.cacheDirectory });
  }

  static async open(options: LakeArchiveReaderOptions): Promise<LakeArchiveReader> {
    return new LakeArchiveReader(options, await DuckDBInstance.create(':memory:'));
  }

  /** How far the archive of a partition reaches: every valid record below it is archived (0: nothing). */
  async archivedTo(topic: string, partition: number): Promise<number> {
    return (await this.archive(topic, partition)).at(-1)?.to ?? 0;
  }

  /** Visits the archived records of a partition below `below`, in offset order; resolves with their count. */
  async scan(topic: string, partition: number, below: number, visit: (record: LogRecord) => void): Promise<number> {
    const files = (await this.archive(topic, partition)).filter((file) => file.from < below);
    if (files.length === 0) return 0;
    const paths: string[] = [];
    for (const file of files) paths.push(await this.files.localPath(file));
    const connection = await this.duckdb.connect();
    try {
      // File names and the bound are parameters: nothing enters the SQL text.
      const result = await connection.runAndReadAll(
        'SELECT _offset, _timestamp, _key, _value FROM read_parquet($files, union_by_name = true) WHERE _offset < $below ORDER BY _offset',
        { files: listValue(paths), below },
        { files: LIST(VARCHAR) },
      );
      let count = 0;
      for (const row of result.getRowObjectsJS()) {
        const key = row._key as string | null;
        visit({
          topic,
          partition,
          offset: Number(row._offset),
          timestamp: Number(row._timestamp),
          key: key === null ? null : Buffer.from(key),
          value: Buffer.from(row._value as string),
          headers: {},
        });
        count++;
      }
      return count;
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    this.duckdb.closeSync();
  }

  /** The partition's archive files, chained from offset 0: a replay from the archive must miss nothing. */
  private async archive(topic: string, partition: number) {
    const files = await listArchiveFiles(this.options.lake, topic, partition);
    if (files.length > 0 && files[0]!.from !== 0) {
      throw new CorruptDataError(`The archive of ${topic}/${partition} does not chain: ${files[0]!.key} starts at ${files[0]!.from}, not 0`, { topic, partition });
    }
    return files;
  }
}
