/**
 * The archiver: copies each source topic from the log into the lake as immutable Parquet files, so the
 * batch layer can recompute from the master dataset even after the log's retention has dropped records.
 *
 * Records are decoded with the source's own decoder, the very one the speed layer uses: a record the
 * speed layer dead-letters is left out of the archive, and the archive holds the same typed values the
 * speed layer saw. Archiving one topic is serialized in this process, so two runs never write
 * overlapping files.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Quarantine,
  archiveKey,
  listArchiveFiles,
  type ArchiveFile,
  type CompiledSource,
  type EventLog,
  type Lake,
  type Logger,
} from '@lambda/core';
import type { DuckDbEngine } from './duckdb-engine.js';
import { writeParquet, type AppendRow } from './parquet-writer.js';

export interface ArchiverOptions {
  eventLog: EventLog;
  lake: Lake;
  engine: DuckDbEngine;
  /** Where Parquet files are written before they are put into the lake. */
  workDirectory: string;
  logger: Logger;
  /** Records per archive file at most. Default 500 000. */
  maxRecordsPerFile?: number;
}

export interface ArchiveProgress {
  topic: string;
  recordsDone: number;
  recordsTotal: number;
}

export interface ArchiveResult {
  /** Per partition, the offset up to which the lake now holds the topic. */
  archivedTo: number[];
  /** Per partition, every archive file, in offset order: what a recompute reads, without listing again. */
  files: ArchiveFile[][];
  /** Files this run wrote. */
  filesWritten: number;
  records: number;
}

export class Archiver {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly options: ArchiverOptions) {}

  /**
   * The records of a topic the speed layer quarantined, by view: the archive keeps them (other views
   * count them), and a view's recompute leaves out its own.
   */
  quarantineOf(topic: string): Promise<Quarantine> {
    return Quarantine.load(this.options.eventLog, topic);
  }

  /** Per partition, the offset up to which the lake holds the topic. */
  async archivedEnds(topic: string, partitions: number): Promise<number[]> {
    const ends: number[] = [];
    for (let partition = 0; partition < partitions; partition++) {
      ends.push((await listArchiveFiles(this.options.lake, topic, partition)).at(-1)?.to ?? 0);
    }
    return ends;
  }

  /**
   * Archives the records the log holds beyond the archive: up to `upTo[partition]` when given (a
   * recompute asks only for what it can use, so views of one topic share files), else to the log's end.
   */
  archiveTopic(source: CompiledSource, options: { upTo?: readonly number[]; onProgress?: (progress: ArchiveProgress) => void } = {}): Promise<ArchiveResult> {
    const topic = source.topic;
    const run = () => this.archive(source, options.upTo, options.onProgress);
    const result = (this.locks.get(topic) ?? Promise.resolve()).then(run, run);
    this.locks.set(
      topic,
      result.catch(() => undefined),
    );
    return result;
  }

  private async archive(source: CompiledSource, upTo: readonly number[] | undefined, onProgress?: (progress: ArchiveProgress) => void): Promise<ArchiveResult> {
    const { eventLog, logger } = this.options;
    const topic = source.topic;
    const { partitions } = await eventLog.describeTopic(topic);
    const [starts, logEnds, files] = await Promise.all([
      eventLog.startOffsets(topic),
      eventLog.endOffsets(topic),
      Promise.all(Array.from({ length: partitions }, (_, partition) => listArchiveFiles(this.options.lake, topic, partition))),
    ]);
    const archived = files.map((list) => list.at(-1)?.to ?? 0);
    // With `upTo`, a partition it does not name has nothing a recompute can use yet.
    const ends = logEnds.map((end, partition) => Math.min(end, upTo ? (upTo[partition] ?? 0) : end));
    const from = archived.map((end, partition) => {
      if (end < starts[partition]!) {
        logger.error(
          { topic, partition, archivedTo: end, logStart: starts[partition] },
          'the log dropped records before they were archived: the lake has a gap there',
        );
        return starts[partition]!;
      }
      return end;
    });
    const progress: ArchiveProgress = { topic, recordsDone: 0, recordsTotal: ends.reduce((sum, end, p) => sum + Math.max(0, end - from[p]!), 0) };
    onProgress?.({ ...progress });
    let written = 0;
    await mkdir(this.options.workDirectory, { recursive: true });
    for (let partition = 0; partition < partitions; partition++) {
      let offset = from[partition]!;
      while (offset < ends[partition]!) {
        const { file, next } = await this.writeFile(source, partition, offset, ends[partition]!);
        if (!file) {
          // The log had no record where it should have (a gap, or retention racing us): stop rather than spin.
          logger.error({ topic, partition, offset }, 'the log returned no record below its end offset; archiving of this partition stops here');
          break;
        }
        files[partition]!.push(file);
        written++;
        progress.recordsDone += next - offset;
        onProgress?.({ ...progress });
        offset = next;
      }
      archived[partition] = Math.max(offset, archived[partition]!);
    }
    if (written > 0) logger.info({ topic, files: written, records: progress.recordsTotal, archivedTo: archived }, 'archived');
    return { archivedTo: archived, files, filesWritten: written, records: progress.recordsTotal };
  }

  /**
   * Writes the next archive file of a partition: the valid records from `from` until `end` or a full
   * file, decoded straight into the Parquet writer. No file when the log returned no record there.
   */
  private async writeFile(source: CompiledSource, partition: number, from: number, end: number): Promise<{ file?: ArchiveFile; next: number }> {
    const temporary = join(this.options.workDirectory, `archive-${randomUUID()}.parquet`);
    try {
      const next = await this.options.engine.withConnection((connection) =>
        writeParquet(connection, source, temporary, (append) => this.readRange(source, partition, from, end, append)),
      );
      if (next === from) return { next };
      const key = archiveKey(source.topic, partition, from, next);
      const { etag, size } = await this.options.lake.put(key, createReadStream(temporary));
      return { file: { key, partition, from, to: next, etag, size }, next };
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** Reads records from `from` until `end` or a full file, appending the valid ones; resolves with the offset after the last read. */
  private async readRange(source: CompiledSource, partition: number, from: number, end: number, append: AppendRow): Promise<number> {
    const limit = this.options.maxRecordsPerFile ?? 500_000;
    let next = from;
    while (next < end && next - from < limit) {
      const page = await this.options.eventLog.read(source.topic, partition, next, { maxBytes: 8 * 1024 * 1024, maxRecords: Math.min(limit - (next - from), end - next) });
      if (page.records.length === 0) break;
      for (const record of page.records) {
        if (record.offset >= end) break;
        const decoded = source.decode(record);
        if (decoded.ok) append(decoded.row, record.key?.toString('utf8') ?? null, record.value.toString('utf8'));
        next = record.offset + 1;
      }
    }
    return next;
  }
}
