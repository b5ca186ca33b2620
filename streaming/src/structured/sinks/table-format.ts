/**
 * Rows as Spark's `show()` prints them: a header and cells between `+---+` rules, cells right-aligned
 * and cut to 20 characters (Spark's default `truncate`), windows as `{start, end}` in UTC.
 */
import type { SchemaColumn } from '../logical-plan.js';
import type { OutputRow, OutputValue } from '../row-pipeline.js';

export interface TableFormatOptions {
  /** Most rows shown; Spark's default is 20. */
  numRows?: number;
  /** Cut cells longer than 20 characters (Spark's default); false shows them whole, left-aligned. */
  truncate?: boolean;
}

export function formatTable(columns: readonly SchemaColumn[], rows: readonly OutputRow[], options: TableFormatOptions = {}): string {
  const numRows = options.numRows ?? 20;
  const truncate = options.truncate ?? true;
  const shown = rows.slice(0, numRows);
  const cells = [columns.map((column) => column.name), ...shown.map((row) => columns.map((column) => formatCell(row[column.name] ?? null)))].map((line) =>
    line.map((cell) => (truncate && cell.length > 20 ? `${cell.slice(0, 17)}...` : cell)),
  );
  const widths = columns.map((_, i) => Math.max(3, ...cells.map((line) => [...line[i]!].length)));
  const pad = (cell: string, width: number) => {
    const fill = ' '.repeat(width - [...cell].length);
    return truncate ? fill + cell : cell + fill;
  };
  const rule = `+${widths.map((width) => '-'.repeat(width)).join('+')}+`;
  const line = (values: string[]) => `|${values.map((value, i) => pad(value, widths[i]!)).join('|')}|`;
  const lines = [rule, line(cells[0]!), rule, ...cells.slice(1).map(line), rule];
  if (rows.length > numRows) lines.push(`only showing top ${numRows} row${numRows === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

export function formatCell(value: OutputValue): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `{${formatTime(value.start)}, ${formatTime(value.end)}}`;
  return String(value);
}

/** `2024-06-11 12:01:00` (UTC), as Spark shows timestamps. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$/, '').replace(/Z$/, '');
}
