/**
 * A view as a SQL table: one row per merged (key, window), with a column per key expression, the window's
 * bounds, and a column per aggregate holding its result (an estimate for approx_distinct, a list of
 * structs for top_k). The rows come from the same merge as the REST reads; only their shape is SQL's.
 */
import { DuckDBListType, DuckDBStructType, DuckDBTimestampValue, listValue, structValue, DOUBLE, BIGINT, BOOLEAN, TIMESTAMP, VARCHAR, type DuckDBAppender, type DuckDBType } from '@duckdb/node-api';
import type { CompiledView, JsonValue } from '@lambda/core';
import type { MergedWindow } from '../api/schemas.js';

export interface ViewTableColumn {
  name: string;
  type: DuckDBType;
}

const TOP_K_ENTRY = new DuckDBStructType(['value', 'count'], [VARCHAR, BIGINT]);
const TOP_K = new DuckDBListType(TOP_K_ENTRY);
const KEY_TYPES: Record<string, DuckDBType> = { string: VARCHAR, number: DOUBLE, boolean: BOOLEAN };

/** A name as a DuckDB quoted identifier, whatever characters it holds. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class ViewTable {
  readonly columns: ViewTableColumn[];
  private readonly keyTypes: string[];
  private readonly windowSizeMs: number | null;
  private readonly resultWriters: { name: string; write: ResultWriter }[];

  constructor(readonly view: CompiledView) {
    const keys = view.keySchema;
    this.keyTypes = keys.map((key) => key.type);
    this.windowSizeMs = view.window.windowed ? view.window.sizeMs : null;
    const aggregates = view.aggregates.map((aggregate) => ({ name: aggregate.name, type: aggregateType(aggregate.resultSchema) }));
    this.resultWriters = aggregates.map(({ name, type }) => ({ name, write: RESULT_WRITERS.get(type)! }));
    const taken = new Set(['window_start', 'window_end', ...aggregates.map((a) => a.name)]);
    // A key column is named by its expression (`url`), unless an aggregate or a window column already is.
    const keyColumns = keys.map((key, i) => ({ name: taken.has(key.expression) ? `key_${i}` : key.expression, type: KEY_TYPES[key.type] ?? VARCHAR }));
    this.columns = [...keyColumns, { name: 'window_start', type: TIMESTAMP }, { name: 'window_end', type: TIMESTAMP }, ...aggregates];
  }

  /** `CREATE TABLE` text for this shape; the table name is the caller's, already quoted. */
  createSql(table: string): string {
    return `CREATE TABLE ${table} (${this.columns.map((column) => `${sqlIdentifier(column.name)} ${column.type.toString()}`).join(', ')})`;
  }

  /** Appends merged windows as rows; the appender must be on a table made by `createSql`. */
  append(appender: DuckDBAppender, windows: readonly MergedWindow[]): void {
    const writers = this.resultWriters;
    for (const window of windows) {
      this.appendKey(appender, window.key);
      appender.appendTimestamp(timestamp(window.windowStart));
      if (this.windowSizeMs === null) appender.appendNull();
      else appender.appendTimestamp(timestamp(window.windowStart + this.windowSizeMs));
      for (const { name, write } of writers) {
        const value = window.values[name];
        if (value === null || value === undefined) appender.appendNull();
        else write(appender, value);
      }
      appender.endRow();
    }
  }

  /** A stored key back into its typed components: the value itself with one, JSON with several, none for '*'. */
  private appendKey(appender: DuckDBAppender, key: string): void {
    if (this.keyTypes.length === 0) return;
    const values = this.keyTypes.length === 1 ? [fromKeyText(key, this.keyTypes[0]!)] : (JSON.parse(key) as JsonValue[]);
    this.keyTypes.forEach((type, i) => {
      const value = values[i];
      if (value === null || value === undefined) appender.appendNull();
      else if (type === 'number') appender.appendDouble(value as number);
      else if (type === 'boolean') appender.appendBoolean(value as boolean);
      else appender.appendVarchar(String(value));
    });
  }
}

function fromKeyText(text: string, type: string): JsonValue {
  if (type === 'number') return Number(text);
  if (type === 'boolean') return text === 'true';
  return text;
}

/** Integers (count, approx_distinct) as BIGINT, other numbers as DOUBLE, top_k's list as a list of structs. */
function aggregateType(schema: Record<string, unknown>): DuckDBType {
  if (schema.type === 'integer') return BIGINT;
  if (schema.type === 'array') return TOP_K;
  return DOUBLE;
}

type ResultWriter = (appender: DuckDBAppender, value: JsonValue) => void;

const RESULT_WRITERS = new Map<DuckDBType, ResultWriter>([
  [BIGINT, (appender, value) => appender.appendBigInt(BigInt(value as number))],
  [DOUBLE, (appender, value) => appender.appendDouble(value as number)],
  [
    TOP_K,
    (appender, value) =>
      appender.appendList(listValue((value as { value: string; count: number }[]).map((entry) => structValue({ value: entry.value, count: BigInt(entry.count) }))), TOP_K),
  ],
]);

/** Epoch ms as a DuckDB TIMESTAMP (microseconds, UTC). */
function timestamp(epochMs: number): DuckDBTimestampValue {
  return new DuckDBTimestampValue(BigInt(epochMs) * 1000n);
}
