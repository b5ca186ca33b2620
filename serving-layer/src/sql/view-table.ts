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
/** Where rows wait for their casts; queries run one at a time, so one name serves. */
const STAGING = '__staging';
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

  /** Creates `table` (quoted) holding the windows `forEach` visits. */
  async load(connection: { run(sql: string): Promise<unknown>; createAppender(table: string): Promise<DuckDBAppender> }, table: string, forEach: (visit: WindowVisitor) => void): Promise<void> {
    const staging = sqlIdentifier(STAGING);
    await connection.run(`DROP TABLE IF EXISTS ${staging}`);
    await connection.run(`CREATE TABLE ${staging} (${this.columns.map((column, i) => `c${i} ${column.staged.toString()}`).join(', ')})`);
    try {
      const appender = await connection.createAppender(STAGING);
      try {
        this.append(appender, forEach);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      await connection.run(`DROP TABLE IF EXISTS ${sqlIdentifier(table)}`);
      await connection.run(`CREATE TABLE ${sqlIdentifier(table)} AS SELECT ${this.selectList()} FROM ${staging}`);
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${staging}`);
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

  private append(appender: DuckDBAppender, forEach: (visit: WindowVisitor) => void): void {
    const types = this.columns.map((column) => column.staged);
    let values = this.columns.map(() => new Array<DuckDBValue>(CHUNK_ROWS));
    let rows = 0;
    const flush = () => {
      const chunk = DuckDBDataChunk.create(types, rows);
      values.forEach((column, i) => chunk.setColumnValues(i, rows === CHUNK_ROWS ? column : column.slice(0, rows)));
      appender.appendDataChunk(chunk);
      values = this.columns.map(() => new Array<DuckDBValue>(CHUNK_ROWS));
      rows = 0;
    };
    forEach((key, windowStart, state) => {
      const keyValues = this.keyValues(key);
      for (let i = 0; i < this.columns.length; i++) values[i]![rows] = this.columns[i]!.value(keyValues, windowStart, state);
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
