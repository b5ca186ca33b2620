/**
 * The truth the exactness contract compares against: the view's own SQL, run by DuckDB over every valid
 * record the log accepted below a position (per partition), from scratch.
 */
import { BIGINT, LIST, listValue } from '@duckdb/node-api';
import { queryRows, type DuckDbEngine } from '@lambda/batch-layer';
import { SqlParameters, type CompiledSource, type CompiledView, type JsonObject, type LogRecord } from '@lambda/core';
import type { MergedWindow } from '@lambda/serving-layer';

/** Valid records as rows of a DuckDB table laid out like the archive's Parquet files. */
export class TruthTable {
  private static tables = 0;
  readonly name = `truth_${++TruthTable.tables}`;

  constructor(
    private readonly engine: DuckDbEngine,
    private readonly source: CompiledSource,
  ) {}

  async create(): Promise<void> {
    const fields = this.source.fieldNames.map((field) => {
      const type = { string: 'VARCHAR', number: 'DOUBLE', boolean: 'BOOLEAN' }[this.source.fieldType(field)];
      return `"${field}" ${type}`;
    });
    await this.engine.withConnection((c) =>
      c.run(`CREATE TABLE ${this.name} (_partition INTEGER, _offset BIGINT, _timestamp BIGINT, _event_time BIGINT, ${fields.join(', ')})`),
    );
  }

  /**
   * Adds the rows of archive Parquet files (the pre-built history, archived by the batch layer's own
   * archiver, so exactly the records its decoder accepts); DuckDB reads them, no row passes through JS.
   * Returns how many rows were added.
   */
  async addParquet(files: readonly string[]): Promise<number> {
    if (files.length === 0) return 0;
    const fields = this.source.fieldNames.map((field) => `"${field}"`);
    const list = `[${files.map((file) => `'${file.replaceAll("'", "''")}'`).join(', ')}]`;
    return this.engine.withConnection(async (connection) => {
      const before = await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM ${this.name}`);
      await connection.run(
        `INSERT INTO ${this.name} SELECT _partition, _offset, _timestamp, _event_time, ${fields.join(', ')} FROM read_parquet(${list})`,
      );
      const after = await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM ${this.name}`);
      return Number(after.getRows()[0]![0]) - Number(before.getRows()[0]![0]);
    });
  }

  /** Adds the valid ones of `records`; returns how many were valid. */
  async add(records: readonly LogRecord[]): Promise<number> {
    let valid = 0;
    await this.engine.withConnection(async (connection) => {
      const appender = await connection.createAppender(this.name);
      try {
        for (const record of records) {
          const decoded = this.source.decode(record);
          if (!decoded.ok) continue;
          valid++;
          const { row } = decoded;
          appender.appendInteger(row.partition);
          appender.appendBigInt(BigInt(row.offset));
          appender.appendBigInt(BigInt(row.timestamp));
          appender.appendBigInt(BigInt(row.eventTime));
          for (const field of this.source.fieldNames) {
            const value = row.fields[field] ?? null;
            if (value === null) appender.appendNull();
            else if (typeof value === 'string') appender.appendVarchar(value);
            else if (typeof value === 'number') appender.appendDouble(value);
            else appender.appendBoolean(value);
          }
          appender.endRow();
        }
      } finally {
        appender.closeSync();
      }
    });
    return valid;
  }

  /** The view's windows over the records below `position`, by `<windowStart> <key>`. */
  async windows(view: CompiledView, position: readonly number[]): Promise<Map<string, MergedWindow>> {
    const parameters = new SqlParameters();
    const sql = view.batchSql(`SELECT * FROM ${this.name} WHERE _offset < coalesce($position[_partition + 1], 0)`, parameters);
    const rows = await this.engine.withConnection((connection) =>
      queryRows(connection, sql, { ...parameters.values, position: listValue(position.map(BigInt)) }, { position: LIST(BIGINT) }),
    );
    const windows = new Map<string, MergedWindow>();
    for (const row of rows) {
      const { key, windowStart, state } = view.stateFromSqlRow(row);
      windows.set(windowId(key, windowStart), {
        key,
        windowStart,
        windowEnd: view.window.windowed ? windowStart + view.window.sizeMs : null,
        values: view.result(state),
      });
    }
    return windows;
  }
}

export function windowId(key: string, windowStart: number): string {
  return `${windowStart} ${key}`;
}

/**
 * Equal as results: numbers exactly when integers (counts, integer sums, sketch estimates), within a
 * relative 1e-9 otherwise, as floating-point sums depend on the order of addition.
 */
export function sameValues(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isInteger(a) && Number.isInteger(b)) return a === b;
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValues(item, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => sameValues((a as JsonObject)[key], (b as JsonObject)[key]));
  }
  return a === b;
}

/** Differences between an answer's windows and the truth, described for a failure message. */
export function differences(answer: readonly MergedWindow[], truth: ReadonlyMap<string, MergedWindow>, keys: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const window of answer) {
    const id = windowId(window.key, window.windowStart);
    seen.add(id);
    const expected = truth.get(id);
    if (!expected) problems.push(`answer has ${id} = ${JSON.stringify(window.values)}, the truth has no such window`);
    else if (!sameValues(window.values, expected.values)) {
      problems.push(`${id}: answer ${JSON.stringify(window.values)}, truth ${JSON.stringify(expected.values)}`);
    }
  }
  for (const [id, expected] of truth) {
    if (keys.has(expected.key) && !seen.has(id)) problems.push(`answer lacks ${id} = ${JSON.stringify(expected.values)}`);
  }
  return problems;
}
