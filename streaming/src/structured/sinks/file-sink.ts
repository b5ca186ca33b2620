/**
 * Spark's file sink: each batch's rows as one file in a directory, `part-<batch id>.json` (JSON lines)
 * or `part-<batch id>.parquet` (written by DuckDB). A file is written whole and renamed into place, and
 * a batch handed again after a restart replaces its file, so readers never see a partial or repeated
 * batch. Like Spark's, it takes append mode only: files cannot be updated.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { validateIdentifier, writeFileAtomic } from '@lambda/core';
import type { SchemaColumn } from '../logical-plan.js';
import type { SinkBatch, StructuredSink } from './structured-sink.js';

export type FileFormat = 'json' | 'parquet';

export interface FileSinkOptions {
  /** The directory the files go to; created if missing. */
  path: string;
  format: FileFormat;
  /** Flush each file to disk before it is renamed into place. Default true. */
  fsync?: boolean;
}

/** `part-0000000042.json`: batch ids zero-padded so names sort in batch order. */
export function partFileName(batchId: number, format: FileFormat): string {
  return `part-${String(batchId).padStart(10, '0')}.${format}`;
}

export class FileSink implements StructuredSink {
  readonly description: string;
  readonly idempotent = true;
  readonly outputModes = ['append'] as const;

  constructor(private readonly options: FileSinkOptions) {
    this.description = `files:${options.path} (${options.format})`;
  }

  async addBatch(batch: SinkBatch): Promise<void> {
    if (batch.rows.length === 0) return;
    await mkdir(this.options.path, { recursive: true });
    const lines = `${batch.rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
    const target = join(this.options.path, partFileName(batch.batchId, this.options.format));
    const fsync = this.options.fsync ?? true;
    if (this.options.format === 'json') await writeFileAtomic(target, lines, { fsync });
    else await writeFileAtomic(target, await toParquet(lines, batch.columns), { fsync });
  }
}

/** DuckDB types of the columns; names are checked identifiers, so quoting them keeps the SQL text safe. */
function duckDbColumns(columns: readonly SchemaColumn[]): string {
  const types = columns.map(({ name, type }) => {
    validateIdentifier(name, 'Parquet column name');
    const sqlType = type === 'window' ? 'STRUCT("start" BIGINT, "end" BIGINT)' : type === 'number' ? 'DOUBLE' : type === 'boolean' ? 'BOOLEAN' : 'VARCHAR';
    return `'${name}': '${sqlType.replaceAll("'", "''")}'`;
  });
  return `{${types.join(', ')}}`;
}

/**
 * Parquet bytes of JSON lines. DuckDB reads and writes files under a fresh temporary directory of ours,
 * so no path a caller chose is ever part of the SQL text.
 */
async function toParquet(lines: string, columns: readonly SchemaColumn[]): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), 'lambda-parquet-'));
  const id = randomUUID();
  const input = join(directory, `${id}.json`);
  const output = join(directory, `${id}.parquet`);
  const literal = (path: string) => `'${path.replaceAll("'", "''")}'`;
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  try {
    await writeFile(input, lines);
    const connection = await instance.connect();
    try {
      await connection.run(
        `COPY (SELECT * FROM read_json(${literal(input)}, format = 'newline_delimited', columns = ${duckDbColumns(columns)})) TO ${literal(output)} (FORMAT PARQUET)`,
      );
    } finally {
      connection.closeSync();
    }
    return await readFile(output);
  } finally {
    instance.closeSync();
    await rm(directory, { recursive: true, force: true });
  }
}
