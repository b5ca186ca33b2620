/**
 * Recomputing a batch view: archive the topic, choose the horizon, run the view's SQL in DuckDB over every
 * archived record below it, write the rows as version N+1, then publish N+1 with its horizon in one atomic
 * switch. Readers keep getting version N until the switch. Preparing and publishing are separate steps,
 * so tests can interleave micro-batches between them.
 *
 * The query runs here, as one DuckDB query, unless a fan-out is given: then each lake partition's share
 * runs as a task wherever the fan-out sends it, and the partial rows are merged here with the view's
 * monoids (each row's states over disjoint records, so the merge equals the one query's states).
 */
import { randomUUID } from 'node:crypto';
import {
  type ArchiveFile,
  type BatchManifest,
  type Catalog,
  type CompiledView,
  type Lake,
  type Logger,
  type ViewStore,
  ConflictError,
  UnknownViewError,
  isRetired,
  nextBatchVersion,
  publishBuiltVersion,
} from '@lambda/core';

import { ArchiveQuery, type ArchiveQueryResult } from './archive-query.js';
import type { Archiver } from './archiver.js';
import type { DuckDbEngine } from './duckdb-engine.js';
import { chooseHorizon, furthestEdges } from './horizon.js';
import { mergePartials, partialKey } from './partials.js';
import type { PartitionFanOut } from './partition-fan-out.js';
import { definitionHash, type PartitionResult, type PartitionTask } from './partition-query.js';

export interface RecomputeProgress {
  stage: 'archive' | 'query' | 'write' | 'publish';
  /** 0 to 100 over the whole run. */
  percent: number;
  message: string;
}

export interface PreparedVersion {
  view: string;
  version: number;
  horizon: number[];
  rows: number;
  /** Log time of the newest record the version counts. */
  newestRecordAt: number | null;
  durationMs: number;
  /** With a fan-out: what each partition task gave, and which worker ran it. */
  partitions?: PartitionResult[];
}

export interface RecomputerOptions {
  viewStore: ViewStore;
  lake: Lake;
  engine: DuckDbEngine;
  archiver: Archiver;
  catalog: Catalog;
  logger: Logger;
  /**
   * Where objects of a lake without local files (S3) are downloaded for DuckDB, kept by key and ETag.
   * Default `<os temp dir>/lambda-lake-cache`.
   */
  lakeCacheDir?: string;
  /** Spreads the query over lake partitions; without it, one DuckDB query here. */
  fanOut?: PartitionFanOut;
}

const ROWS_PER_WRITE = 5000;
/** Where the query stage's percentages start and end. */
const QUERY_FROM = 40;
const QUERY_TO = 75;

export class Recomputer {
  private readonly archiveQuery: ArchiveQuery;

  constructor(private readonly options: RecomputerOptions) {
    this.archiveQuery = new ArchiveQuery(options);
  }

  /** Prepares and publishes a new batch version; undefined when no new records reached a slice edge. */
  async run(viewName: string, onProgress: (progress: RecomputeProgress) => void = () => undefined): Promise<BatchManifest | undefined> {
    const prepared = await this.prepare(viewName, onProgress);
    if (!prepared) return undefined;
    onProgress({ stage: 'publish', percent: 97, message: `publishing version ${prepared.version}` });
    return this.publish(prepared);
  }

  /**
   * Builds version N+1 of a view without publishing it. Undefined when the horizon would not move: there
   * is nothing new to count.
   */
  async prepare(viewName: string, onProgress: (progress: RecomputeProgress) => void = () => undefined): Promise<PreparedVersion | undefined> {
    const { viewStore, archiver, logger } = this.options;
    const view = this.view(viewName);
    const started = performance.now();

    // Archive only up to the furthest slice edge: beyond it no horizon can go yet.
    const slices = await viewStore.listSlices(view.name);
    onProgress({ stage: 'archive', percent: 0, message: `archiving ${view.source.topic}` });
    const archive = await archiver.archiveTopic(view.source, {
      upTo: furthestEdges(slices),
      onProgress: ({ recordsDone, recordsTotal }) => {
        const share = recordsTotal === 0 ? 1 : recordsDone / recordsTotal;
        onProgress({ stage: 'archive', percent: Math.floor(40 * share), message: `archived ${recordsDone} of ${recordsTotal} records` });
      },
    });

    const manifest = await viewStore.readManifest(view.name);
    if (isRetired(manifest)) {
      throw new ConflictError(`"${view.name}" was retired by a reprocess: its successor ${String(manifest!.stats!.successor)} serves now`, { view: view.name });
    }
    const current = manifest?.horizon ?? archive.archivedTo.map(() => 0);
    const horizon = chooseHorizon(slices, archive.archivedTo, current);
    // Also before any version: an empty version 1 at horizon zero would only hide that the speed layer has
    // cut no slice yet (it does within SLICE_MAX_AGE), and make the next recompute look like a second one.
    if (horizon.every((offset, partition) => offset === (current[partition] ?? 0))) {
      logger.debug({ view: view.name, horizon }, 'no new slice edge within the archive: nothing to recompute');
      return undefined;
    }

    const version = nextBatchVersion(manifest, await viewStore.listBatchVersions(view.name));
    // Read after the slices: a record the speed layer quarantined below a slice edge is recorded before the edge is.
    const quarantined = (await archiver.quarantineOf(view.source.topic)).below(view.name, horizon);
    onProgress({ stage: 'query', percent: QUERY_FROM, message: `running the view's SQL below horizon [${horizon.join(', ')}]` });
    const { rows, newestRecordAt, partitions }: ArchiveQueryResult & { partitions?: PartitionResult[] } = this.options.fanOut
      ? await this.fanOutQuery(this.options.fanOut, view, version, horizon, archive.files, quarantined, onProgress)
      : await this.archiveQuery.run(view, horizon, archive.files.flat(), quarantined);
    for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) {
      await viewStore.putBatchRows(view.name, version, rows.slice(i, i + ROWS_PER_WRITE));
      const share = Math.min(1, (i + ROWS_PER_WRITE) / rows.length);
      onProgress({ stage: 'write', percent: 75 + Math.floor(20 * share), message: `wrote ${Math.min(rows.length, i + ROWS_PER_WRITE)} of ${rows.length} rows` });
    }
    return {
      view: view.name,
      version,
      horizon,
      rows: rows.length,
      newestRecordAt,
      durationMs: performance.now() - started,
      ...(partitions ? { partitions } : {}),
    };
  }

  /** Makes a prepared version the one readers get, atomically. */
  async publish(prepared: PreparedVersion): Promise<BatchManifest> {
    const manifest: BatchManifest = {
      view: prepared.view,
      version: prepared.version,
      horizon: prepared.horizon,
      publishedAt: Date.now(),
      newestRecordAt: prepared.newestRecordAt,
      stats: { rows: prepared.rows, durationMs: Math.round(prepared.durationMs) },
    };
    await publishBuiltVersion(this.options.viewStore, manifest);
    this.options.logger.info(
      { view: prepared.view, version: prepared.version, horizon: prepared.horizon, rows: prepared.rows, ms: Math.round(prepared.durationMs) },
      'published batch version',
    );
    return manifest;
  }

  /**
   * Deletes what the serving version makes obsolete: closed slices wholly below its horizon, and versions
   * older than the one before it, published or left by a run that was overtaken or crashed. Versions
   * above the serving one are left alone: a run may be writing them. Readers still on an older version
   * notice the switch and read again.
   */
  async cleanUp(viewName: string): Promise<{ slices: number; versions: number }> {
    const { viewStore } = this.options;
    const manifest = await viewStore.readManifest(viewName);
    if (!manifest) return { slices: 0, versions: 0 };
    const covered = (await viewStore.listSlices(viewName)).filter(
      (slice) => slice.closed && slice.end <= (manifest.horizon[slice.partition] ?? 0),
    );
    await viewStore.deleteSlices(covered);
    const stale = (await viewStore.listBatchVersions(viewName)).filter((version) => version < manifest.version - 1);
    for (const version of stale) await viewStore.deleteBatchVersion(viewName, version);
    return { slices: covered.length, versions: stale.length };
  }

  /**
   * One task per partition with archive files below its horizon, run by the fan-out; their partial rows,
   * read back from the lake, merged by (key, window start). The partials are deleted however it ends.
   */
  private async fanOutQuery(
    fanOut: PartitionFanOut,
    view: CompiledView,
    version: number,
    horizon: number[],
    files: ArchiveFile[][],
    quarantined: number[][],
    onProgress: (progress: RecomputeProgress) => void,
  ): Promise<ArchiveQueryResult & { partitions: PartitionResult[] }> {
    const run = randomUUID().slice(0, 8);
    const definition = definitionHash(view);
    const tasks: PartitionTask[] = [];
    horizon.forEach((below, partition) => {
      const reaching = (files[partition] ?? []).filter((file) => file.from < below);
      if (reaching.length === 0) return;
      tasks.push({
        view: view.name,
        version,
        partition,
        horizon: below,
        files: reaching.map(({ key, etag, from, to }) => ({ key, etag, from, to })),
        definition,
        output: partialKey(view.name, version, run, partition),
        quarantined: quarantined[partition] ?? [],
      });
    });
    if (tasks.length === 0) return { rows: [], newestRecordAt: null, partitions: [] };
    try {
      const partitions = await fanOut.run(tasks, (done, total) =>
        onProgress({
          stage: 'query',
          percent: QUERY_FROM + Math.floor(((QUERY_TO - QUERY_FROM) * done) / total),
          message: `${done} of ${total} partitions queried`,
        }),
      );
      const rows = await mergePartials(this.options.lake, view, tasks.map((task) => task.output));
      const newest = partitions.map((result) => result.newestRecordAt).filter((at): at is number => at !== null);
      return { rows, newestRecordAt: newest.length === 0 ? null : Math.max(...newest), partitions };
    } finally {
      for (const task of tasks) {
        await this.options.lake
          .delete(task.output)
          .catch((error: unknown) => this.options.logger.warn({ err: error, key: task.output }, 'could not delete a partial; it stays in the lake'));
      }
    }
  }

  /**
   * One above every version stored, published or not. A number is never reused, so a run that was
   * overtaken (or crashed after writing rows) can never publish over another run's rows: its publish
   * is refused as no newer than the serving version, and clean-up deletes its rows.
   */
  private view(name: string): CompiledView {
    const view = this.options.catalog.views.get(name);
    if (!view) throw new UnknownViewError(`Unknown view "${name}"`, { view: name });
    return view;
  }
}
