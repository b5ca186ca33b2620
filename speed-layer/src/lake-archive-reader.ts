/**
 * Reads a topic's records back from the lake archive, for reprocessing offsets the log no longer holds
 * (below its start offsets). The archive is the batch layer's (`batch-layer/src/archive-layout.ts`):
 *
 *   master/<topic>/<partition>/<from>-<to>.parquet     (offsets zero-padded to 20 digits)
 *
 * each file holding the *valid* records of its range with their raw JSON value, read here with DuckDB and
 * handed on as log records, so they are decoded and folded exactly as the speed layer folds the log.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance, VARCHAR, LIST, listValue } from '@duckdb/node-api';
import { CorruptDataError, type Lake, type LogRecord } from '@lambda/common';

export interface LakeArchiveReaderOptions {
  lake: Lake;
  /** Where objects of a lake without local files (S3) are downloaded while they are read. */
  scratchDirectory: string;
}

interface ArchiveFile {
  key: string;
  from: number;
  to: number;
}

const pad = (offset: number) => String(offset).padStart(20, '0');
const ARCHIVE_FILE = /\/(\d+)\/(\d{20})-(\d{20})\.parquet$/;

export class LakeArchiveReader {
  private constructor(
    private readonly options: LakeArchiveReaderOptions,
    private readonly duckdb: DuckDBInstance,
  ) {}

  static async open(options: LakeArchiveReaderOptions): Promise<LakeArchiveReader> {
    await mkdir(options.scratchDirectory, { recursive: true });
    return new LakeArchiveReader(options, await DuckDBInstance.create(':memory:'));
  }

  /** How far the archive of a partition reaches: every valid record below it is archived (0: nothing). */
  async archivedTo(topic: string, partition: number): Promise<number> {
    return (await this.files(topic, partition)).at(-1)?.to ?? 0;
  }

  /** Visits the archived records of a partition below `below`, in offset order; resolves with their count. */
  async scan(topic: string, partition: number, below: number, visit: (record: LogRecord) => void): Promise<number> {
    const files = (await this.files(topic, partition)).filter((file) => file.from < below);
    if (files.length === 0) return 0;
    const downloaded: string[] = [];
    try {
      const paths: string[] = [];
      for (const file of files) {
        if (this.options.lake.localPath) {
          paths.push(this.options.lake.localPath(file.key));
        } else {
          const path = join(this.options.scratchDirectory, `${partition}-${pad(file.from)}-${pad(file.to)}.parquet`);
          const { body } = await this.options.lake.get(file.key);
          await pipeline(body, createWriteStream(path));
          downloaded.push(path);
          paths.push(path);
        }
      }
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
    } finally {
      for (const path of downloaded) await rm(path, { force: true });
    }
  }

  close(): void {
    this.duckdb.closeSync();
  }

  /** The archive files of a partition in offset order; they must chain, or records would be missed. */
  private async files(topic: string, partition: number): Promise<ArchiveFile[]> {
    const files: ArchiveFile[] = [];
    for await (const info of this.options.lake.list(`master/${topic}/${partition}/`)) {
      const match = ARCHIVE_FILE.exec(info.key);
      if (match) files.push({ key: info.key, from: Number(match[2]), to: Number(match[3]) });
    }
    files.sort((a, b) => a.from - b.from);
    for (let i = 0; i < files.length; i++) {
      const expected = i === 0 ? 0 : files[i - 1]!.to;
      if (files[i]!.from !== expected) {
        throw new CorruptDataError(`The archive of ${topic}/${partition} does not chain: ${files[i]!.key} starts at ${files[i]!.from}, not ${expected}`, { topic, partition });
      }
    }
    return files;
  }
}
