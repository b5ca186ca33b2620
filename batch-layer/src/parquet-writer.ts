/**
 * Writes decoded records as a Parquet file with DuckDB: envelope columns (`_partition`, `_offset`,
 * `_timestamp`, `_key`, `_event_time`, `_value` — the raw JSON), then one typed column per declared field.
 * Typed columns are what the views' SQL reads, so DuckDB never re-parses JSON or coerces types.
 *
 * Rows go into DuckDB's appender as the caller decodes them, never gathered in JS first: a file holds up
 * to hundreds of thousands of records, and holding them all as JS objects until the file is written made
 * the garbage collector the archiver's largest cost.
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { CompiledSource, FieldType, SourceRow } from '@lambda/core';

/** Appends one record to the file being written: its decoded row, its key and its value as it arrived (JSON text). */
export type AppendRow = (row: SourceRow, key: string | null, value: string) => void;

const SQL_TYPES: Record<FieldType, string> = { string: 'VARCHAR', number: 'DOUBLE', boolean: 'BOOLEAN' };

let tables = 0;

/**
 * Runs `fill`, which appends the file's rows, then writes them to `path` as Parquet; resolves with what
 * `fill` resolved with.
 */
export async function writeParquet<T>(connection: DuckDBConnection, source: CompiledSource, path: string, fill: (append: AppendRow) => Promise<T>): Promise<T> {
  const table = `archive_rows_${++tables}`;
  const fields = source.fieldNames;
  const types = fields.map((field) => source.fieldType(field));
  const columns = [
    '_partition INTEGER',
    '_offset BIGINT',
    '_timestamp BIGINT',
    '_key VARCHAR',
    '_event_time BIGINT',
    '_value VARCHAR',
    ...fields.map((field, i) => `"${field}" ${SQL_TYPES[types[i]!]}`),
  ];
  await connection.run(`CREATE TEMP TABLE ${table} (${columns.join(', ')})`);
  try {
    const appender = await connection.createAppender(table);
    let filled: T;
    try {
      filled = await fill((row, key, value) => {
        appender.appendInteger(row.partition);
        appender.appendBigInt(BigInt(row.offset));
        appender.appendBigInt(BigInt(row.timestamp));
        if (key === null) appender.appendNull();
        else appender.appendVarchar(key);
        appender.appendBigInt(BigInt(row.eventTime));
        appender.appendVarchar(value);
        for (let i = 0; i < fields.length; i++) appendField(appender, types[i]!, row.fields[fields[i]!] ?? null);
        appender.endRow();
      });
    } finally {
      appender.closeSync();
    }
    // The path is one the batch layer made itself (a temporary file), never user input.
    await connection.run(`COPY ${table} TO '${path.replaceAll("'", "''")}' (FORMAT PARQUET, COMPRESSION ZSTD)`);
    return filled;
  } finally {
    await connection.run(`DROP TABLE ${table}`);
  }
}

function appendField(appender: DuckDBAppender, type: FieldType, value: string | number | boolean | null): void {
  if (value === null) appender.appendNull();
  else if (type === 'string') appender.appendVarchar(value as string);
  else if (type === 'number') appender.appendDouble(value as number);
  else appender.appendBoolean(value as boolean);
}
