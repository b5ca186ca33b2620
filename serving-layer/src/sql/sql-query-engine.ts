/**
 * Ad-hoc SQL over the merged views, exact and read-only. Each view a query names is read at one
 * consistent snapshot through the same merge as the REST reads (batch version ⊕ live slices), loaded as a
 * table into an in-memory DuckDB, and the query runs over those rows: so an answer is exactly what the
 * same SQL gives over a from-scratch recompute of the views at the positions its provenance names.
 *
 * A view's table is kept while its snapshot stays the same (same generation, batch version, slices and
 * position), so queries of a view that did not move skip the merge and the load.
 *
 * The DuckDB instance has no file, network or extension access and a memory limit; each query has a time
 * limit, and queries run one at a time, so the limits hold per query.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { PlatformError, type Catalog, type JsonValue, type RowFilter } from '@lambda/core';
import type { Provenance } from '../api/schemas.js';
import type { MergedViewReader } from '../query/merged-view-reader.js';
import { InvalidSqlError, QueryLimitError, SqlNotAllowedError } from './sql-errors.js';
import { pushdownFilter } from './sql-pushdown.js';
import { checkStatement } from './sql-statement.js';
import { ViewTable } from './view-table.js';

export interface SqlQueryEngineOptions {
  /** How long a query may run before it is stopped (a 422 QUERY_TIMEOUT). Default 10 s. */
  timeoutMs?: number;
  /** DuckDB's memory limit, for the view tables and the query together (a 422 QUERY_OUT_OF_MEMORY past it). Default '1GB'. */
  memoryLimit?: string;
  /** The most rows an answer holds; past it the answer is cut and says so. Default 10,000. */
  maxRows?: number;
  /** DuckDB's threads. Default 1: the speed layer and the API share the machine. */
  threads?: number;
}

export interface SqlQuery {
  sql: string;
  /** Values of the statement's `?` or `$n` parameters, in order. */
  params?: readonly JsonValue[];
  /** At most this many rows (and at most the engine's `maxRows`). */
  limit?: number;
}

export interface SqlAnswer {
  columns: { name: string; type: string }[];
  /** Each row's values in column order. */
  rows: JsonValue[][];
  /** Whether the query had more rows than the answer holds. */
  truncated: boolean;
  /** Per view the query read, the snapshot it read. */
  views: Record<string, Provenance>;
  /** Per view read only in part, the keys and window range its rows were read for (see sql-pushdown.ts). */
  pushedDown: Record<string, RowFilter>;
  /** How long the query itself ran, without loading the views. */
  elapsedMs: number;
}

/** What a view's table holds: the snapshot it was read at, and the filter it was read with (none: every window). */
interface LoadedView {
  shape: string;
  provenance: Provenance;
  filter: string | undefined;
  /** The generation's storage name and the batch version: while both stand, a refresh replaces only the slices' windows. */
  storage: string;
  batchVersion: number;
  sliceWindows: Map<string, Set<number>>;
}

export const SQL_QUERY_DEFAULTS = { timeoutMs: 10_000, memoryLimit: '1GB', maxRows: 10_000, threads: 1 };

export class SqlQueryEngine {
  /** Per view, what its table holds. */
  private readonly loaded = new Map<string, LoadedView>();
  /** Views by their lower-cased names: DuckDB matches table names without regard to case. */
  private readonly viewNames: Map<string, string>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly reader: MergedViewReader,
    catalog: Catalog,
    private readonly options: typeof SQL_QUERY_DEFAULTS,
  ) {
    this.viewNames = new Map([...catalog.views.keys()].map((name) => [name.toLowerCase(), name]));
  }

  static async create(reader: MergedViewReader, catalog: Catalog, options: SqlQueryEngineOptions = {}): Promise<SqlQueryEngine> {
    const settings = { ...SQL_QUERY_DEFAULTS, ...options };
    const instance = await DuckDBInstance.create(':memory:', {
      // Queries read the view tables and nothing else: no files, no network, no extensions.
      enable_external_access: 'false',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
      memory_limit: settings.memoryLimit,
      threads: String(settings.threads),
    });
    try {
      const connection = await instance.connect();
      // Windows are UTC instants: now() and date_trunc() must not follow the server's time zone.
      await connection.run("SET TimeZone = 'UTC'");
      // Nothing a query does can change the settings above.
      await connection.run('SET lock_configuration = true');
      return new SqlQueryEngine(instance, connection, reader, catalog, settings);
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  /** Runs one query; queries wait their turn, so each has the memory limit to itself. */
  query(query: SqlQuery): Promise<SqlAnswer> {
    const run = this.queue.then(() => this.run(query));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async run({ sql, params = [], limit }: SqlQuery): Promise<SqlAnswer> {
    const { tables, references, tree } = await checkStatement(this.connection, sql).catch(rethrowDuckDbError);
    const views: Record<string, Provenance> = {};
    const pushedDown: Record<string, RowFilter> = {};
    for (const table of tables) {
      const view = this.viewNames.get(table);
      if (view === undefined || view in views) continue;
      // A view named once, by the query's own FROM, may be read only where the query's filters reach.
      const filter = references === 1 ? pushdownFilter(tree, params, { keyColumn: this.stringKeyColumn(view) }) : undefined;
      const loaded = await this.load(view, filter);
      views[view] = loaded.provenance;
      if (loaded.filter) pushedDown[view] = loaded.filter;
    }

    const prepared = await this.connection.prepare(sql).catch(rethrowDuckDbError);
    if (prepared.parameterCount !== params.length) {
      throw new InvalidSqlError(`sql has ${prepared.parameterCount} parameter(s), and params holds ${params.length} value(s)`, {
        parameters: prepared.parameterCount,
        params: params.length,
      });
    }
    params.forEach((value, i) => bindParam(prepared, i + 1, value));
    const maxRows = Math.min(limit ?? this.options.maxRows, this.options.maxRows);
    const started = performance.now();
    const timer = setTimeout(() => this.connection.interrupt(), this.options.timeoutMs);
    try {
      // One row past the limit tells whether there were more, without reading them all.
      const result = await prepared.streamAndReadUntil(maxRows + 1);
      const types = result.columnTypes().map(String);
      const rows = result.getRowsJS().map((row) => row.map((value, i) => jsonValue(value, types[i]!)));
      return {
        columns: result.columnNames().map((name, i) => ({ name, type: types[i]! })),
        rows: rows.slice(0, maxRows),
        truncated: rows.length > maxRows,
        views,
        pushedDown,
        elapsedMs: Math.round((performance.now() - started) * 1000) / 1000,
      };
    } catch (error) {
      return rethrowDuckDbError(error, { timeoutMs: this.options.timeoutMs, memoryLimit: this.options.memoryLimit });
    } finally {
      clearTimeout(timer);
      prepared.destroySync();
    }
  }

  /**
   * The view's table as of now: its provenance, and the filter it was read with (none: every row). The
   * view's shape is read first, without its rows: while it is the shape loaded before, and the rows loaded
   * then cover the query's filter, the table stands as it is; else the rows are read at one consistent
   * snapshot (only the filter's, with one), merged and loaded again.
   */
  private async load(view: string, filter: RowFilter | undefined): Promise<{ provenance: Provenance; filter?: RowFilter }> {
    const wanted = filter === undefined ? undefined : JSON.stringify(filter);
    const held = this.loaded.get(view);
    if (held && (held.filter === undefined || held.filter === wanted) && held.shape === (await this.reader.shape(view))) {
      return { provenance: this.reader.refreshed(view, held.provenance), ...(held.filter === undefined ? {} : { filter }) };
    }
    this.loaded.delete(view); // until the new rows are all in
    // A whole table of the same generation and batch version: only the windows of slices change.
    const refresh = held?.filter === undefined ? held : undefined;
    const snapshot = await this.reader.snapshot(view, refresh ? {} : filter);
    const table = new ViewTable(snapshot.view);
    const sliceWindows = snapshot.sliceWindows();
    if (refresh && refresh.storage === snapshot.view.name && refresh.batchVersion === (snapshot.provenance.batch?.version ?? 0)) {
      const changed = unionOf(refresh.sliceWindows, sliceWindows);
      await table.replace(this.connection, view, changed, (visit) => snapshot.forEachWindow(visit, (key, windowStart) => changed.get(key)?.has(windowStart) === true));
    } else {
      await table.load(this.connection, view, snapshot.forEachWindow);
    }
    const loadedFilter = refresh ? undefined : wanted;
    this.loaded.set(view, {
      shape: snapshot.shape,
      provenance: snapshot.provenance,
      filter: loadedFilter,
      storage: snapshot.view.name,
      batchVersion: snapshot.provenance.batch?.version ?? 0,
      sliceWindows,
    });
    return { provenance: snapshot.provenance, ...(loadedFilter === undefined ? {} : { filter }) };
  }

  /** The view's key column when it has one key, a string: the only key a filter can be pushed down on. */
  private stringKeyColumn(view: string): string | undefined {
    const logic = this.reader.serving(view);
    const keys = logic.keySchema;
    if (keys.length !== 1 || keys[0]!.type !== 'string') return undefined;
    return new ViewTable(logic).columns[0]!.name.toLowerCase();
  }
}

/** A request's parameter, typed as SQL would type the literal: integers BIGINT, other numbers DOUBLE. */
function bindParam(prepared: DuckDBPreparedStatement, index: number, value: JsonValue): void {
  if (value === null) prepared.bindNull(index);
  else if (typeof value === 'string') prepared.bindVarchar(index, value);
  else if (typeof value === 'boolean') prepared.bindBoolean(index, value);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) prepared.bindBigInt(index, BigInt(value));
    else prepared.bindDouble(index, value);
  } else throw new InvalidSqlError('params holds values: strings, numbers, booleans or null', { param: value });
}

/** A result value as JSON: big integers past 2^53 and non-finite numbers as text, times as ISO 8601. */
function jsonValue(value: unknown, type = ''): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (Array.isArray(value)) return value.map((item) => jsonValue(item));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, jsonValue(item)]));
  }
  return String(value);
}

/**
 * DuckDB's errors as the platform's: an interrupt is the time limit, running out of memory the memory
 * limit, a permission error a refused access, anything else in the SQL the caller's to fix.
 */
function rethrowDuckDbError(error: unknown, limits: { timeoutMs?: number; memoryLimit?: string } = {}): never {
  if (error instanceof PlatformError) throw error;
  const message = (error as Error)?.message ?? String(error);
  if (/^INTERRUPT Error/i.test(message)) {
    throw new QueryLimitError('time', `the query ran past its time limit of ${limits.timeoutMs} ms and was stopped`, { timeoutMs: limits.timeoutMs });
  }
  if (/^Out of Memory Error/i.test(message)) {
    throw new QueryLimitError('memory', `the query needs more than its memory limit of ${limits.memoryLimit}: ${firstLine(message)}`, { memoryLimit: limits.memoryLimit });
  }
  if (/^Permission Error/i.test(message)) throw new SqlNotAllowedError(`the query reads the views only: ${firstLine(message)}`, {});
  if (/^(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Not implemented|Constraint|Dependency|Serialization|Syntax) Error/i.test(message)) {
    throw new InvalidSqlError(firstLine(message), {});
  }
  throw error;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}

/** Windows by key, in either map. */
function unionOf(a: ReadonlyMap<string, ReadonlySet<number>>, b: ReadonlyMap<string, ReadonlySet<number>>): Map<string, Set<number>> {
  const union = new Map<string, Set<number>>();
  for (const windows of [a, b]) {
    for (const [key, starts] of windows) {
      const into = union.get(key) ?? new Set<number>();
      for (const start of starts) into.add(start);
      union.set(key, into);
    }
  }
  return union;
}
