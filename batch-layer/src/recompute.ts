/**
 * Recomputing a batch view: archive the topic, choose the horizon, run the view's SQL in DuckDB over every
 * archived record below it, write the rows as version N+1, then publish N+1 with its horizon in one atomic
 * switch. Readers keep getting version N until the switch. Preparing and publishing are separate steps,
 * so tests can interleave micro-batches between them.
 */
import { BIGINT, LIST, VARCHAR, listValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import {
  SqlParameters,
  type BatchManifest,
  type Catalog,
  type CompiledView,
  type Lake,
  type Logger,
  type ViewRow,
  type ViewStore,
  UnknownViewError,
} from '@lambda/common';
import type { ArchiveFile } from './archive-layout.js';
import type { Archiver } from './archiver.js';
import { queryRows, type DuckDbEngine } from './duckdb-engine.js';
import { chooseHorizon, furthestEdges } from './horizon.js';

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
}

export interface RecomputerOptions {
  viewStore: ViewStore;
  lake: Lake;
  engine: DuckDbEngine;
  archiver: Archiver;
  catalog: Catalog;
  logger: Logger;
}

const ROWS_PER_WRITE = 5000;

export class Recomputer {
  constructor(private readonly options: RecomputerOptions) {}

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
    const current = manifest?.horizon ?? archive.archivedTo.map(() => 0);
    const horizon = chooseHorizon(slices, archive.archivedTo, current);
    if (manifest && horizon.every((offset, partition) => offset === current[partition])) {
      logger.debug({ view: view.name, horizon }, 'no new slice edge within the archive: nothing to recompute');
      return undefined;
    }

    onProgress({ stage: 'query', percent: 40, message: `running the view's SQL below horizon [${horizon.join(', ')}]` });
    const { rows, newestRecordAt } = await this.query(view, horizon, archive.files);

    const version = await this.nextVersion(view.name, manifest);
    for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) {
      await viewStore.putBatchRows(view.name, version, rows.slice(i, i + ROWS_PER_WRITE));
      const share = Math.min(1, (i + ROWS_PER_WRITE) / rows.length);
      onProgress({ stage: 'write', percent: 75 + Math.floor(20 * share), message: `wrote ${Math.min(rows.length, i + ROWS_PER_WRITE)} of ${rows.length} rows` });
    }
    return { view: view.name, version, horizon, rows: rows.length, newestRecordAt, durationMs: performance.now() - started };
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
    await this.options.viewStore.publishBatchVersion(manifest);
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

  private async query(view: CompiledView, horizon: number[], files: ArchiveFile[][]): Promise<{ rows: ViewRow[]; newestRecordAt: number | null }> {
    // Files wholly below the horizon are read as they are; only one straddling it needs the offset filter.
    const whole: string[] = [];
    const straddling: string[] = [];
    for (let partition = 0; partition < horizon.length; partition++) {
      for (const file of files[partition] ?? []) {
        if (file.to <= horizon[partition]!) whole.push(this.localPath(file.key));
        else if (file.from < horizon[partition]!) straddling.push(this.localPath(file.key));
      }
    }
    if (whole.length + straddling.length === 0) return { rows: [], newestRecordAt: null };
    // File names and offsets are parameters, like every literal of the view: no value enters the SQL text.
    const inputs: string[] = [];
    const values: Record<string, DuckDBValue> = {};
    const types: Record<string, DuckDBType> = {};
    if (whole.length > 0) {
      inputs.push('SELECT * FROM read_parquet($whole, union_by_name = true)');
      values.whole = listValue(whole);
      types.whole = LIST(VARCHAR);
    }
    if (straddling.length > 0) {
      inputs.push('SELECT * FROM read_parquet($straddling, union_by_name = true) WHERE _offset < $horizon[_partition + 1]');
      values.straddling = listValue(straddling);
      values.horizon = listValue(horizon.map(BigInt));
      types.straddling = LIST(VARCHAR);
      types.horizon = LIST(BIGINT);
    }
    return this.options.engine.withConnection(async (connection) => {
      const parameters = new SqlParameters();
      const sql = view.batchSql(inputs.join(' UNION ALL BY NAME '), parameters);
      let newestRecordAt: number | null = null;
      const rows = (await queryRows(connection, sql, { ...parameters.values, ...values }, types)).map((row) => {
        const { key, windowStart, state, newestRecordAt: newest } = view.stateFromSqlRow(row);
        if (newestRecordAt === null || newest > newestRecordAt) newestRecordAt = newest;
        return { key, windowStart, state: view.toJson(state) };
      });
      return { rows, newestRecordAt };
    });
  }

  private localPath(key: string): string {
    const { lake } = this.options;
    if (!lake.localPath) throw new Error('This lake keeps no local files; the batch layer reads local lakes only for now');
    return lake.localPath(key);
  }

  /**
   * One above every version stored, published or not. A number is never reused, so a run that was
   * overtaken (or crashed after writing rows) can never publish over another run's rows: its publish
   * is refused as no newer than the serving version, and clean-up deletes its rows.
   */
  private async nextVersion(view: string, manifest: BatchManifest | undefined): Promise<number> {
    const versions = await this.options.viewStore.listBatchVersions(view);
    return Math.max(manifest?.version ?? 0, ...versions) + 1;
  }

  private view(name: string): CompiledView {
    const view = this.options.catalog.views.get(name);
    if (!view) throw new UnknownViewError(`Unknown view "${name}"`, { view: name });
    return view;
  }
}
