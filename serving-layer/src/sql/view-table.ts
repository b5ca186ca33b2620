/**
 * A view as a SQL table: one row per merged (key, window), with a column per key expression, the window's
 * bounds, and a column per aggregate holding its result (an estimate for approx_distinct, a list of
 * structs for top_k). The states come from the same merge as the REST reads; only their shape is SQL's.
 *
 * Loading a million rows value by value through the appender takes seconds, most of it making BigInts
 * and timestamp objects. So rows go in as plain numbers, in chunks, into a staging table, and DuckDB
 * turns them into BIGINTs and TIMESTAMPs in one vectorized statement.
 */
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBListType,
  DuckDBStructType,
  TIMESTAMP,
  VARCHAR,
  listValue,
  structValue,
  type DuckDBAppender,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { CompiledView, RowState } from '@lambda/core';

export interface ViewTableColumn {
  name: string;
  /** The type queries see. */
  type: DuckDBType;
  /** The type it is staged as: DOUBLE for what DuckDB casts afterwards, else `type`. */
  staged: DuckDBType;
  /** Its value in a window: the key's component, the window start (ms), or the aggregate's result. */
  value: (key: readonly unknown[], windowStart: number, state: RowState) => DuckDBValue;
}

/** One merged window, as `MergedViewReader.snapshot` visits them. */
export type WindowVisitor = (key: string, windowStart: number, state: RowState) => void;

const TOP_K = new DuckDBListType(new DuckDBStructType(['value', 'count'], [VARCHAR, BIGINT]));
const KEY_TYPES: Record<string, DuckDBType> = { string: VARCHAR, number: DOUBLE, boolean: BOOLEAN };
/** Where rows wait for their casts, and the windows a refresh replaces; queries run one at a time, so one name each serves. */
const STAGING = '__staging';
const REMOVED = '__removed';

/** What a view table needs of a DuckDB connection. */
export interface SqlConnection {
  run(sql: string): Promise<unknown>;
  createAppender(table: string): Promise<DuckDBAppender>;
}
/** The rows of one chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** A name as a DuckDB quoted identifier, whatever characters it holds. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class ViewTable {
  readonly columns: ViewTableColumn[];
  private readonly keyCount: number;

  constructor(readonly view: CompiledView) {
    const keys = view.keySchema;
    this.keyCount = keys.length;
    const aggregates: ViewTableColumn[] = view.aggregates.map((aggregate, i) => {
      if (aggregate.resultSchema.type === 'array') {
        const value = (_key: readonly unknown[], _windowStart: number, state: RowState) => topK(aggregate.result(state[i]));
        return { name: aggregate.name, type: TOP_K, staged: TOP_K, value };
      }
      const type = aggregate.resultSchema.type === 'integer' ? BIGINT : DOUBLE;
      return { name: aggregate.name, type, staged: DOUBLE, value: (_key, _windowStart, state) => aggregate.result(state[i]) as number | null };
    });
    const taken = new Set(['window_start', 'window_end', ...aggregates.map((column) => column.name)]);
    // A key column is named by its expression (`url`), unless an aggregate or a window column already is.
    const keyColumns: ViewTableColumn[] = keys.map((key, i) => {
      const type = KEY_TYPES[key.type] ?? VARCHAR;
      return { name: taken.has(key.expression) ? `key_${i}` : key.expression, type, staged: type, value: (values) => values[i] as DuckDBValue };
    });
    const windowStart: ViewTableColumn = { name: 'window_start', type: TIMESTAMP, staged: DOUBLE, value: (_key, start) => start };
    this.columns = [...keyColumns, windowStart, ...aggregates];
  }

  /** Creates `table` holding the windows `forEach` visits. */
  async load(connection: SqlConnection, table: string, forEach: (visit: WindowVisitor) => void): Promise<void> {
    await this.staged(connection, STAGING, this.columns, forEach, async (staging) => {
      await connection.run(`DROP TABLE IF EXISTS ${sqlIdentifier(table)}`);
      await connection.run(`CREATE TABLE ${sqlIdentifier(table)} AS SELECT ${this.selectList()} FROM ${staging}`);
    });
  }

  /**
   * In `table`, made by `load`, replaces the rows of the `removed` windows (key to window starts) with the
   * windows `forEach` visits: how a view whose slices moved is brought up to date without loading its
   * batch version again.
   */
  async replace(connection: SqlConnection, table: string, removed: ReadonlyMap<string, ReadonlySet<number>>, forEach: (visit: WindowVisitor) => void): Promise<void> {
    const ids = this.columns.slice(0, this.keyCount + 1);
    const forEachRemoved = (visit: WindowVisitor) => {
      for (const [key, starts] of removed) for (const windowStart of starts) visit(key, windowStart, []);
    };
    const target = sqlIdentifier(table);
    const matches = ids
      .map((column, i) =>
        column.name === 'window_start'
          ? `${target}."window_start" = make_timestamp(CAST(r.c${i} AS BIGINT) * 1000)`
          : `${target}.${sqlIdentifier(column.name)} = r.c${i}`,
      )
      .join(' AND ');
    await this.staged(connection, REMOVED, ids, forEachRemoved, async (removedTable) => {
      await connection.run(`DELETE FROM ${target} WHERE EXISTS (SELECT 1 FROM ${removedTable} AS r WHERE ${matches})`);
    });
    await this.staged(connection, STAGING, this.columns, forEach, async (staging) => {
      await connection.run(`INSERT INTO ${target} SELECT ${this.selectList()} FROM ${staging}`);
    });
  }

  /** Stages the windows `forEach` visits as `columns` in table `name`, runs `use` on it, and drops it. */
  private async staged(
    connection: SqlConnection,
    name: string,
    columns: readonly ViewTableColumn[],
    forEach: (visit: WindowVisitor) => void,
    use: (table: string) => Promise<void>,
  ): Promise<void> {
    const table = sqlIdentifier(name);
    await connection.run(`DROP TABLE IF EXISTS ${table}`);
    await connection.run(`CREATE TABLE ${table} (${columns.map((column, i) => `c${i} ${column.staged.toString()}`).join(', ')})`);
    try {
      const appender = await connection.createAppender(name);
      try {
        this.append(appender, columns, forEach);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await use(table);
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${table}`);
    }
  }

  /** The staged columns as queries see them: integers cast back, window starts as TIMESTAMPs, window ends added. */
  private selectList(): string {
    const sizeMs = this.view.window.windowed ? this.view.window.sizeMs : null;
    return this.columns
      .flatMap((column, i) => {
        const name = sqlIdentifier(column.name);
        if (column.name === 'window_start') {
          // Generated numbers only: the window size is the view definition's, an integer.
          const end = sizeMs === null ? 'CAST(NULL AS TIMESTAMP)' : `make_timestamp((CAST(c${i} AS BIGINT) + ${Math.trunc(sizeMs)}) * 1000)`;
          return [`make_timestamp(CAST(c${i} AS BIGINT) * 1000) AS ${name}`, `${end} AS "window_end"`];
        }
        return [column.type === column.staged ? `c${i} AS ${name}` : `CAST(c${i} AS ${column.type.toString()}) AS ${name}`];
      })
      .join(', ');
  }

  private append(appender: DuckDBAppender, columns: readonly ViewTableColumn[], forEach: (visit: WindowVisitor) => void): void {
    const types = columns.map((column) => column.staged);
    let values = columns.map(() => new Array<DuckDBValue>(CHUNK_ROWS));
    let rows = 0;
    const flush = () => {
      const chunk = DuckDBDataChunk.create(types, rows);
      values.forEach((column, i) => chunk.setColumnValues(i, rows === CHUNK_ROWS ? column : column.slice(0, rows)));
      appender.appendDataChunk(chunk);
      values = columns.map(() => new Array<DuckDBValue>(CHUNK_ROWS));
      rows = 0;
    };
    forEach((key, windowStart, state) => {
      const keyValues = this.keyValues(key);
      for (let i = 0; i < columns.length; i++) values[i]![rows] = columns[i]!.value(keyValues, windowStart, state);
      if (++rows === CHUNK_ROWS) flush();
    });
    if (rows > 0) flush();
  }

  /** A stored key back into its typed components: the value itself with one, JSON with several, none for '*'. */
  private keyValues(key: string): readonly unknown[] {
    if (this.keyCount === 0) return [];
    if (this.keyCount > 1) return JSON.parse(key) as unknown[];
    const type = this.columns[0]!.type;
    return [type === DOUBLE ? Number(key) : type === BOOLEAN ? key === 'true' : key];
  }
}

function topK(entries: unknown): DuckDBValue {
  return listValue((entries as { value: string; count: number }[]).map((entry) => structValue({ value: entry.value, count: BigInt(entry.count) })));
}
