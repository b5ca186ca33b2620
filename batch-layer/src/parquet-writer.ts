/**
 * Writes decoded records as a Parquet file with DuckDB: envelope columns (`_partition`, `_offset`,
 * `_timestamp`, `_key`, `_event_time`, `_value` — the raw JSON), then one typed column per declared field.
 * Typed columns are what the views' SQL reads, so DuckDB never re-parses JSON or coerces types.
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { CompiledSource, FieldType, SourceRow } from '@lambda/core';

export interface ArchiveRow extends SourceRow {
  key: string | null;
  /** The record's value as it arrived (JSON text). */
  value: string;
}

const SQL_TYPES: Record<FieldType, string> = { string: 'VARCHAR', number: 'DOUBLE', boolean: 'BOOLEAN' };

let tables = 0;

export async function writeParquet(connection: DuckDBConnection, source: CompiledSource, rows: readonly ArchiveRow[], path: string): Promise<void> {
  const table = `archive_rows_${++tables}`;
  const fields = source.fieldNames;
  const columns = [
    '_partition INTEGER',
    '_offset BIGINT',
    '_timestamp BIGINT',
    '_key VARCHAR',
    '_event_time BIGINT',
    '_value VARCHAR',
    ...fields.map((field) => `"${field}" ${SQL_TYPES[source.fieldType(field)]}`),
  ];
  await connection.run(`CREATE TEMP TABLE ${table} (${columns.join(', ')})`);
  try {
    const appender = await connection.createAppender(table);
    try {
      for (const row of rows) {
        appender.appendInteger(row.partition);
        appender.appendBigInt(BigInt(row.offset));
        appender.appendBigInt(BigInt(row.timestamp));
        appendNullable(appender, row.key, (value) => appender.appendVarchar(value));
        appender.appendBigInt(BigInt(row.eventTime));
        appender.appendVarchar(row.value);
        for (const field of fields) appendField(appender, source.fieldType(field), row.fields[field] ?? null);
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    // The path is one the batch layer made itself (a temporary file), never user input.
    await connection.run(`COPY ${table} TO '${path.replaceAll("'", "''")}' (FORMAT PARQUET, COMPRESSION ZSTD)`);
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

function appendNullable<T>(appender: DuckDBAppender, value: T | null, append: (value: T) => void): void {
  if (value === null) appender.appendNull();
  else append(value);
}
