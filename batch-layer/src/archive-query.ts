/**
 * A view's SQL over archive files in DuckDB, below a horizon: the one query both recompute paths run,
 * over every partition at once (one process) or over one partition's files (a partition job). Rows carry
 * each aggregate's state as JSON, so the states of several partitions merge with the view's monoids.
 */
import { BIGINT, LIST, VARCHAR, listValue, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { ArchiveFiles, SqlParameters, type ArchiveFile, type CompiledView, type Lake, type Logger, type ViewRow } from '@lambda/core';
import { queryRows, type DuckDbEngine } from './duckdb-engine.js';

/** What a query needs to know of an archive file: which object, which version of it, which offsets. */
export type ArchiveFileRef = Pick<ArchiveFile, 'key' | 'etag' | 'partition' | 'from' | 'to'>;

export interface ArchiveQueryResult {
  rows: ViewRow[];
  /** Log time of the newest record counted; null when none was. */
  newestRecordAt: number | null;
}

export interface ArchiveQueryOptions {
  engine: DuckDbEngine;
  lake: Lake;
  logger: Logger;
  /**
   * Where objects of a lake without local files (S3) are downloaded for DuckDB, kept by key and ETag.
   * Default `<os temp dir>/lambda-lake-cache`.
   */
  lakeCacheDir?: string;
}

export class ArchiveQuery {
  private readonly archive: ArchiveFiles;

  constructor(private readonly options: ArchiveQueryOptions) {
    this.archive = new ArchiveFiles({ lake: options.lake, cacheDirectory: options.lakeCacheDir, logger: options.logger });
  }

  /**
   * The view's rows over the records of `files` below `horizon` (per partition; a missing one is 0),
   * leaving out the offsets `quarantined` per partition for this view (see `Quarantine`).
   */
  async run(view: CompiledView, horizon: readonly number[], files: readonly ArchiveFileRef[], quarantined: readonly (readonly number[])[] = []): Promise<ArchiveQueryResult> {
    // Files wholly below the horizon are read as they are; only one straddling it needs the offset filter.
    const whole: string[] = [];
    const straddling: string[] = [];
    for (const file of files) {
      const below = horizon[file.partition] ?? 0;
      if (file.to <= below) whole.push(await this.archive.localPath(file));
      else if (file.from < below) straddling.push(await this.archive.localPath(file));
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
      const partitions = Math.max(horizon.length, ...files.map((file) => file.partition + 1));
      inputs.push('SELECT * FROM read_parquet($straddling, union_by_name = true) WHERE _offset < $horizon[_partition + 1]');
      values.straddling = listValue(straddling);
      values.horizon = listValue(Array.from({ length: partitions }, (_, partition) => BigInt(horizon[partition] ?? 0)));
      types.straddling = LIST(VARCHAR);
      types.horizon = LIST(BIGINT);
    }
    let input = inputs.join(' UNION ALL BY NAME ');
    if (quarantined.some((offsets) => offsets.length > 0)) {
      const partitions = Math.max(quarantined.length, ...files.map((file) => file.partition + 1));
      input = `SELECT * FROM (${input}) WHERE NOT list_contains($quarantined[_partition + 1], _offset)`;
      values.quarantined = listValue(Array.from({ length: partitions }, (_, partition) => listValue((quarantined[partition] ?? []).map(BigInt))));
      types.quarantined = LIST(LIST(BIGINT));
    }
    return this.options.engine.withConnection(async (connection) => {
      const parameters = new SqlParameters();
      const sql = view.batchSql(input, parameters);
      let newestRecordAt: number | null = null;
      const rows = (await queryRows(connection, sql, { ...parameters.values, ...values }, types)).map((row) => {
        const { key, windowStart, state, newestRecordAt: newest } = view.stateFromSqlRow(row);
        if (newestRecordAt === null || newest > newestRecordAt) newestRecordAt = newest;
        return { key, windowStart, state: view.toJson(state) };
      });
      return { rows, newestRecordAt };
    });
  }
}
