/**
 * An answer of `POST /query` as a terminal table (`npm run query`): a header with each column's name and
 * type, a line per row, then a footer with the row count, whether rows were cut, the time the query took
 * and the position each view was read at.
 */
import Table from 'cli-table3';
import type { JsonValue } from '@lambda/core';
import type { SqlAnswer } from '@lambda/serving-layer';

export interface SqlAnswerTableOptions {
  /** Whether to dim the NULLs with an ANSI escape: for a terminal, not for a file or a pipe. */
  color?: boolean;
}

/** DuckDB's number types, whose columns align right. */
const NUMERIC = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\))$/;
/** Control characters but the newline (a cell may span lines): shown escaped, never sent to the terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/** The table and its footer, lines ended by a newline. */
export function formatSqlAnswer(answer: SqlAnswer, options: SqlAnswerTableOptions = {}): string {
  const table = new Table({
    head: answer.columns.map(({ name, type }) => `${name}\n${type}`),
    colAligns: answer.columns.map(({ type }) => (NUMERIC.test(type) ? 'right' : 'left')),
    // No colors of the library's own: a header or border in red tells nothing.
    style: { head: [], border: [], compact: true },
  });
  for (const row of answer.rows) table.push(row.map((value) => formatCell(value, options)));
  return `${table.toString()}\n${footer(answer)}\n`;
}

/** A value as a cell: NULL for null, lists and structs as compact JSON, text as is (control characters escaped). */
export function formatCell(value: JsonValue, { color = false }: SqlAnswerTableOptions = {}): string {
  if (value === null) return color ? '\u001b[2mNULL\u001b[22m' : 'NULL';
  if (typeof value === 'string') return value.replace(CONTROL, escape);
  if (typeof value === 'object') return JSON.stringify(value).replace(CONTROL, escape);
  return String(value);
}

function escape(character: string): string {
  if (character === '\t') return '\\t';
  if (character === '\r') return '\\r';
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `3 rows in 4.2 ms; pageviews_by_url at position [120, 98]`. */
export function footer({ rows, truncated, elapsedMs, views }: SqlAnswer): string {
  const count = `${rows.length} ${rows.length === 1 ? 'row' : 'rows'}${truncated ? ' (truncated: more rows than shown)' : ''}`;
  const read = Object.entries(views).map(([view, { position }]) => `${view} at position [${position.join(', ')}]`);
  return `${count} in ${elapsedMs.toFixed(1)} ms; ${read.length > 0 ? read.join(', ') : 'no view read'}`;
}
