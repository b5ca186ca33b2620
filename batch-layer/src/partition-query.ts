/**
 * One lake partition's share of a recompute: a partition task names the view and version, the partition,
 * its horizon offset and its archive files below it; running it is the view's SQL over those files alone,
 * giving rows with partial aggregate states, written to the lake object the task names.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { InvalidArgumentError, UnknownViewError, type Catalog, type CompiledView, type Lake, type Logger } from '@lambda/core';
import { ArchiveQuery, type ArchiveFileRef, type ArchiveQueryResult } from './archive-query.js';
import type { DuckDbEngine } from './duckdb-engine.js';
import { writePartial } from './partials.js';

export interface PartitionTask {
  view: string;
  /** The version being computed; names the partial object, and the run in logs. */
  version: number;
  partition: number;
  /** The offset below which the partition's records count. */
  horizon: number;
  /** The partition's archive files that hold records below the horizon, in offset order. */
  files: Omit<ArchiveFileRef, 'partition'>[];
  /** Hash of the view's and its source's definitions: a worker with another catalog must not compute it. */
  definition: string;
  /** The lake object the partial rows are written to. */
  output: string;
  /** Offsets of the partition below the horizon quarantined for the view: left out (see `Quarantine`). */
  quarantined?: number[];
}

export interface PartitionResult {
  partition: number;
  /** Rows in the partial. */
  rows: number;
  /** Log time of the newest record counted; null when none was. */
  newestRecordAt: number | null;
  /** Which worker ran it. */
  worker: string;
}

export interface PartitionQueryOptions {
  engine: DuckDbEngine;
  lake: Lake;
  /** The views tasks may name; each task's definition hash must match this catalog's. */
  catalog: Catalog;
  logger: Logger;
  /** Where objects of a lake without local files (S3) are downloaded for DuckDB. Default under the OS temp dir. */
  lakeCacheDir?: string;
  /** This worker's name in results and logs. Default `<host>-<pid>`. */
  worker?: string;
}

/** The hash a task carries of its view's definition (and its source's, which types the fields). */
export function definitionHash(view: CompiledView): string {
  return createHash('sha256')
    .update(JSON.stringify([view.definition, view.source.definition]))
    .digest('hex');
}

export class PartitionQuery {
  readonly worker: string;
  private readonly archive: ArchiveQuery;

  constructor(private readonly options: PartitionQueryOptions) {
    this.worker = options.worker ?? `${hostname()}-${process.pid}`;
    this.archive = new ArchiveQuery(options);
  }

  /** The task's rows, each with the states of that partition's records only. */
  query(task: PartitionTask): Promise<ArchiveQueryResult> {
    const view = this.view(task);
    const horizon: number[] = [];
    horizon[task.partition] = task.horizon;
    return this.archive.run(
      view,
      Array.from(horizon, (offset) => offset ?? 0),
      task.files.map((file) => ({ ...file, partition: task.partition })),
      Array.from({ length: task.partition + 1 }, (_, partition) => (partition === task.partition ? (task.quarantined ?? []) : [])),
    );
  }

  /** Queries the task and writes its rows to `task.output`. */
  async run(task: PartitionTask): Promise<PartitionResult> {
    const started = performance.now();
    const { rows, newestRecordAt } = await this.query(task);
    await writePartial(this.options.lake, task.output, rows);
    this.options.logger.debug(
      { view: task.view, version: task.version, partition: task.partition, rows: rows.length, ms: Math.round(performance.now() - started) },
      'ran a partition task',
    );
    return { partition: task.partition, rows: rows.length, newestRecordAt, worker: this.worker };
  }

  private view(task: PartitionTask): CompiledView {
    const view = this.options.catalog.views.get(task.view);
    if (!view) throw new UnknownViewError(`Unknown view "${task.view}" in partition task: this worker's catalog lacks it`, { view: task.view });
    if (definitionHash(view) !== task.definition) {
      throw new InvalidArgumentError(`View "${task.view}" is defined differently in this worker's catalog than in the batch layer's`, {
        view: task.view,
        worker: this.worker,
      });
    }
    return view;
  }
}
